"""Timing helper shared by the benchmark scripts."""

import time
from collections.abc import Callable


def rate(work: Callable[[], int], seconds: float) -> float:
    """Frames per second of ``work`` (which returns how many frames it processed), after a warm-up."""
    work()
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        frames += work()
    return frames / (time.perf_counter() - start)
