"""Inference with a trained generator and the paper's applications: reconstruction, reenactment, frontalisation, editing, compression."""
