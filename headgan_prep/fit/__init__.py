"""The fit stage: HeadGAN's Algorithm 1 (identity, expression, camera per frame), cameras, rotations,
and the parameters of reenactment and editing."""
