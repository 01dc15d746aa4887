"""The audio stage: 84 low-level and 216 DeepSpeech features per video frame."""
