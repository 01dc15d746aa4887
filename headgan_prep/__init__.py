"""HeadGAN preprocessing: manifest, demo data, ingest (decode, detect, track, crop)."""

__version__ = "0.1.0"
