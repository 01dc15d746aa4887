"""HeadGAN networks, losses, data loading, training, inference and metrics."""
