"""The render stage: NMFC images with ModernGL on headless EGL, and a numpy reference rasteriser."""
