"""HeadGAN networks and training; applications and metrics build on them."""
