"""HeadGAN's networks: building blocks, generator (F and R), discriminators (D and D_m), VGG19."""
