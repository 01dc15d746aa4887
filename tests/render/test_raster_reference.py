import numpy as np

from headgan_prep.render.raster_reference import rasterise


def test_pixel_centres_inside_the_square_are_covered_once():
    # Two triangles covering x in [1, 5), y in [2, 4): 4 × 2 pixels, the shared diagonal drawn by the first.
    vertices = np.array([[1, 2, 0], [5, 2, 0], [5, 4, 0], [1, 4, 0]], float)
    image, ids = rasterise(vertices, [[0, 1, 2], [0, 2, 3]], [[1, 0, 0], [0, 0, 1]], (6, 8))
    covered = np.zeros((6, 8), bool)
    covered[2:4, 1:5] = True
    np.testing.assert_array_equal(ids >= 0, covered)
    assert set(np.unique(ids[covered])) == {0, 1}
    np.testing.assert_array_equal(image[ids == 0], np.broadcast_to([255, 0, 0], image[ids == 0].shape))
    np.testing.assert_array_equal(image[~covered], 0)


def test_nearest_triangle_wins_whatever_the_order_and_winding():
    far = [[0, 0, 5], [8, 0, 5], [0, 8, 5]]
    near = [[0, 0, 1], [0, 8, 1], [8, 0, 1]]  # the other winding
    for order in ([far, near], [near, far]):
        vertices = np.array(order[0] + order[1], float)
        _, ids = rasterise(vertices, [[0, 1, 2], [3, 4, 5]], np.zeros((2, 3)), (8, 8))
        assert (ids[ids >= 0] == (1 if order[0] is far else 0)).all()
        assert ids[0, 0] >= 0 and ids[7, 7] == -1


def test_depth_is_interpolated_across_the_triangle():
    # Two triangles crossing: each is nearer on one side of x = 4.
    vertices = np.array([[0, 0, 0], [8, 0, 10], [0, 8, 0], [0, 0, 10], [8, 0, 0], [0, 8, 10]], float)
    _, ids = rasterise(vertices, [[0, 1, 2], [3, 4, 5]], np.zeros((2, 3)), (8, 8))
    assert ids[0, 1] == 0 and ids[0, 6] == 1
