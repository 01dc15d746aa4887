"""Pasting crops back: the inverse of the ingest's crop inside the box, the frame untouched outside."""

import numpy as np
from skimage import data

from headgan_model.apps.paste import paste_back
from headgan_prep.ingest.track import CropBox, crop_frames


def test_a_crop_pasted_back_restores_the_frame():
    frame = data.astronaut()[:301]  # odd height: the output is cut to even
    for box in (CropBox(100, 40, 200), CropBox(-50, 150, 220)):  # inside, and reaching outside
        crops = crop_frames(frame[None], box, 256)
        pasted = paste_back(frame, np.concatenate([crops, 255 - crops]), box)
        assert pasted.shape == (2, 300, 512, 3)
        inside = np.zeros(frame.shape[:2], bool)
        inside[max(box.y0, 0) : box.y0 + box.side, max(box.x0, 0) : box.x0 + box.side] = True
        inside = inside[:300]
        np.testing.assert_array_equal(pasted[0][~inside], frame[:300][~inside])
        error = np.abs(pasted[0].astype(int) - frame[:300])[inside].mean()
        assert error < 6, error  # the resize round trip
        assert np.abs(pasted[1].astype(int) - frame[:300])[inside].mean() > 50  # the second crop is another
