"""Reference triangle rasteriser in plain numpy: slow and simple, the ground truth for the renderer.

Every pixel ``(i, j)`` (row ``i``, column ``j``) is sampled at its centre ``(x, y) = (j + 0.5,
i + 0.5)`` in crop pixels (x right, y down). A sample lies in a triangle when its three edge
functions have the sign of the triangle's area or are zero (closed triangles: samples exactly on
an edge belong to every triangle that shares it, both windings are drawn, zero-area triangles are
skipped). Depth is interpolated linearly in the image (orthographic projection) and the smallest
depth wins (depth grows away from the viewer, as ``s · R[2] · X`` of :mod:`headgan_prep.fit.camera`);
on equal depth the triangle listed first wins.
"""

from __future__ import annotations

import numpy as np


def rasterise(
    vertices: np.ndarray, triangles: np.ndarray, colours: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat-coloured image and triangle-id map of one mesh seen through an orthographic camera.

    Parameters
    ----------
    vertices : np.ndarray
        ``(N, 3)`` projected vertices: x, y in crop pixels, depth (smaller = nearer the viewer).
    triangles : np.ndarray
        ``(F, 3)`` vertex indices.
    colours : np.ndarray
        ``(F, 3)`` colour of each triangle in [0, 1].
    size : tuple of int
        ``(H, W)`` of the image.

    Returns
    -------
    image : np.ndarray
        ``(H, W, 3)`` uint8, ``round(255 · colour)`` of the visible triangle, 0 for background.
    triangle_id : np.ndarray
        ``(H, W)`` int64 index of the visible triangle, −1 for background.
    """
    height, width = size
    vertices = np.asarray(vertices, np.float64)
    colours = np.asarray(colours, np.float64)
    depth = np.full((height, width), np.inf)
    triangle_id = np.full((height, width), -1, np.int64)
    for index, corners in enumerate(vertices[np.asarray(triangles)]):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = corners
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if not area or not np.isfinite(area):
            continue
        low, high = np.floor(corners[:, :2].min(axis=0)).astype(int), np.ceil(corners[:, :2].max(axis=0)).astype(int)
        columns = np.arange(max(low[0], 0), min(high[0] + 1, width))
        rows = np.arange(max(low[1], 0), min(high[1] + 1, height))
        if not len(columns) or not len(rows):
            continue
        x, y = np.meshgrid(columns + 0.5, rows + 0.5)
        # Barycentric weight of each corner: the edge function of the opposite edge over the area.
        b0 = ((x1 - x) * (y2 - y) - (x2 - x) * (y1 - y)) / area
        b1 = ((x2 - x) * (y0 - y) - (x0 - x) * (y2 - y)) / area
        b2 = ((x0 - x) * (y1 - y) - (x1 - x) * (y0 - y)) / area
        z = b0 * z0 + b1 * z1 + b2 * z2
        window = np.ix_(rows, columns)
        nearer = (b0 >= 0) & (b1 >= 0) & (b2 >= 0) & (z < depth[window])
        depth[window] = np.where(nearer, z, depth[window])
        triangle_id[window] = np.where(nearer, index, triangle_id[window])
    image = np.round(np.clip(colours, 0, 1) * 255).astype(np.uint8)[triangle_id]
    image[triangle_id < 0] = 0
    return image, triangle_id
