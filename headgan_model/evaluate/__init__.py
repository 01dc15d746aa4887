"""Evaluation of a trained run: the paper's Tables 1–3 from the applications' videos, with their protocol."""
