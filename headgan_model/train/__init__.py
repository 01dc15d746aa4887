"""Training HeadGAN: settings, data loading, losses, the training loop and its pictures."""
