"""Generated crops pasted back into the frame they were cut from (the inverse of the ingest's crop)."""

from __future__ import annotations

import cv2
import numpy as np

from headgan_prep.ingest.track import CropBox


def paste_back(frame: np.ndarray, crops: np.ndarray, box: CropBox) -> np.ndarray:
    """Frames of ``frame`` with each crop resized to the crop box and put in its place.

    Parameters
    ----------
    frame : np.ndarray
        ``(H, W, 3)`` uint8 source frame.
    crops : np.ndarray
        ``(T, S, S, 3)`` uint8 crops of the square ``box`` (generated frames).
    box : CropBox
        Square in ``frame`` pixels as the ingest cut it (it may reach outside the frame: that part
        is dropped).

    Returns
    -------
    np.ndarray
        ``(T, H', W', 3)`` uint8 with H' and W' the frame's size rounded down to even (as H.264's
        yuv420p needs).
    """
    height, width = frame.shape[:2]
    left, top = max(box.x0, 0), max(box.y0, 0)
    right, bottom = min(box.x0 + box.side, width), min(box.y0 + box.side, height)
    out = np.repeat(np.asarray(frame, np.uint8)[None], len(crops), axis=0)
    if right > left and bottom > top:
        interpolation = cv2.INTER_AREA if box.side < crops.shape[1] else cv2.INTER_LINEAR
        for t, crop in enumerate(crops):
            scaled = cv2.resize(crop, (box.side, box.side), interpolation=interpolation)
            out[t, top:bottom, left:right] = scaled[top - box.y0 : bottom - box.y0, left - box.x0 : right - box.x0]
    return out[:, : height - height % 2, : width - width % 2]
