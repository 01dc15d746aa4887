import numpy as np

from headgan_prep.dataset.sketch import FACE_EDGES, SEGMENTS, draw_sketch


def test_the_edges_join_the_68_points_as_vid2vid_draws_a_face():
    assert sorted({p for line in FACE_EDGES for p in line}) == list(range(68))
    assert len(SEGMENTS) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8
    assert (36, 41) not in map(tuple, SEGMENTS) and (41, 36) in map(tuple, SEGMENTS)  # eyes closed


def test_a_segment_is_a_two_pixel_line_in_all_channels():
    points = np.full((68, 3), 5.5)  # every point on pixel (5, 5): the other segments are that pixel
    points[0, :2], points[1, :2] = (2.2, 3.7), (6.9, 3.1)  # pixels (2, 3) and (6, 3)
    sketch = draw_sketch(points, 10)
    assert sketch.shape == (10, 10, 3) and sketch.dtype == np.uint8
    assert (sketch == sketch[:, :, :1]).all() and set(np.unique(sketch)) == {0, 255}
    expected = np.zeros((10, 10), bool)
    expected[2:4, 1:7] = True  # y 3 and 3 − 1, x 2 − 1 … 6
    # the segment from (6, 3) to (5, 5): samples (6, 3), (6, 4) → rounds, (5, 5)
    for x, y in ((6, 3), (6, 4), (5, 5)):
        expected[y - 1 : y + 1, x - 1 : x + 1] = True
    np.testing.assert_array_equal(sketch[:, :, 0] == 255, expected)


def test_points_outside_the_image_are_clipped():
    points = np.zeros((68, 2))
    points[:, 0] = np.linspace(-20, 40, 68)
    points[:, 1] = 3
    sketch = draw_sketch(points, 16)
    assert sketch[2:4, :, 0].all() and sketch[:2].max() == 0 and sketch[4:].max() == 0
