"""NMFC images (HeadGAN, Sec. 3.1) rendered with OpenGL through ModernGL on a headless EGL context.

The colour of a pixel is the mean shape's coordinates at the centre of the visible triangle,
normalised per axis to [0, 1] over the mean shape's bounding box (``flat``), or those coordinates
interpolated between the triangle's vertices (``vertex``); background is 0. The projection is the
weak-perspective camera of :mod:`headgan_prep.fit.camera`: image x, y = ``s · R[:2] · X + t`` and depth
``s · R[2] · X`` (smaller = nearer), with a depth test; :mod:`headgan_prep.render.raster_reference` draws
the same images in numpy.

Frames are drawn in batches: the K frames of a batch are instances of one draw call, instance k
placed in tile k of a framebuffer atlas (clip distances keep every face inside its tile), and the
whole atlas is read back at once, so the per-frame cost of a draw and a readback is shared. The
tiles are stacked in one column, so the read-back atlas already is the ``(K, size, size, 3)`` image
array, without a copy to reorder it. A
frame's image is the same in every tile except, rarely, a pixel where two surfaces meet at equal
depth (a silhouette), so images depend on ``batch`` in such pixels only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from headgan_prep.fit.camera import CAMERA_SIZE, camera_rotation, project
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.settings import StageSettings

COLOURINGS = ("flat", "vertex")
GL_CLIP_DISTANCE0 = 0x3000
SUBPIXELS = 1024
"""Image positions are rounded to 1/SUBPIXELS pixel, exact in float32 at every tile of the atlas."""
MAX_BATCH = 64
"""Largest ``render.batch``: 64 tiles of 256 pixels fill the 16384-pixel framebuffer height that
OpenGL implementations (Mesa's llvmpipe among them) allow."""
GL_VERSION = 430
"""Shader storage buffers are needed (OpenGL 4.3)."""

_VERTEX_SHADER = """
#version 430
layout(std430, binding = 0) readonly buffer Positions { float positions[]; };
layout(std430, binding = 1) readonly buffer VertexColours { float vertex_colours[]; };
uniform int n_vertices;
uniform float size;
uniform vec2 atlas;
out vec3 colour;
out float gl_ClipDistance[4];

void main() {
    int base = 3 * (gl_InstanceID * n_vertices + gl_VertexID);
    vec3 p = vec3(positions[base], positions[base + 1], positions[base + 2]);
    vec2 tile = vec2(0.0, gl_InstanceID * size);
    // Window y runs with image y, so the atlas reads back with image rows in order.
    gl_Position = vec4(2.0 * (tile + p.xy) / atlas - 1.0, p.z, 1.0);
    gl_ClipDistance[0] = p.x;
    gl_ClipDistance[1] = size - p.x;
    gl_ClipDistance[2] = p.y;
    gl_ClipDistance[3] = size - p.y;
    int v = 3 * gl_VertexID;
    colour = vec3(vertex_colours[v], vertex_colours[v + 1], vertex_colours[v + 2]);
}
"""

_FRAGMENT_SHADER = """
#version 430
layout(std430, binding = 2) readonly buffer TriangleColours { float triangle_colours[]; };
uniform int n_triangles;
uniform bool flat_colour;
in vec3 colour;
out vec4 fragment;

void main() {
    // Instances restart the primitive count; the modulo keeps the index right either way.
    int t = 3 * (gl_PrimitiveID % n_triangles);
    vec3 c = flat_colour ? vec3(triangle_colours[t], triangle_colours[t + 1], triangle_colours[t + 2]) : colour;
    fragment = vec4(c, 1.0);
}
"""


class RenderError(RuntimeError):
    """The OpenGL context cannot be created, or the inputs have the wrong shapes."""


class RenderConfigError(ValueError):
    """The ``render`` configuration is invalid."""


@dataclass(frozen=True)
class RenderConfig(StageSettings):
    """Settings of the NMFC rendering (the ``render:`` section of the workflow configuration).

    Attributes
    ----------
    colouring : str
        ``"flat"`` (one colour per triangle, its centre's; the paper) or ``"vertex"`` (interpolated
        between the triangle's vertices).
    batch : int
        Frames per draw call and readback (:class:`NMFCRenderer`); images differ with it only in
        rare silhouette pixels (module docstring).
    """

    section: ClassVar[str] = "render"
    error: ClassVar[type[ValueError]] = RenderConfigError

    colouring: str = "flat"
    batch: int = 16

    def __post_init__(self):
        if self.colouring not in COLOURINGS:
            raise RenderConfigError(f"render.colouring must be one of {COLOURINGS}, got {self.colouring!r}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or not 1 <= self.batch <= MAX_BATCH:
            raise RenderConfigError(f"render.batch must be an integer in [1, {MAX_BATCH}], got {self.batch!r}")


@functools.cache
def gl_context():
    """The process's headless OpenGL context (EGL), created on first use.

    Raises
    ------
    RenderError
        When EGL or OpenGL 4.3 is missing, naming the packages that provide them.
    """
    import moderngl

    try:
        return moderngl.create_standalone_context(backend="egl", require=GL_VERSION)
    except Exception as error:  # moderngl raises bare Exceptions for a missing library or driver
        raise RenderError(
            f"cannot create a headless OpenGL {GL_VERSION // 100}.{GL_VERSION // 10 % 10} context with EGL ({error}); "
            "install the Debian packages libegl1 libgl1 libegl-mesa0 (Mesa 20.3 or newer; its software renderer "
            "llvmpipe is enough), or in a conda environment the conda-forge packages libegl and libgl with the "
            "system's Mesa EGL driver"
        ) from None


def nmfc_colours(model: MorphableModel) -> tuple[np.ndarray, np.ndarray]:
    """NMFC colours of a model's vertices and triangles.

    Parameters
    ----------
    model : MorphableModel

    Returns
    -------
    vertex_colours : np.ndarray
        ``(N, 3)`` float32, the mean shape normalised per axis to [0, 1] over its bounding box.
    triangle_colours : np.ndarray
        ``(F, 3)`` float32, the normalised centre of each triangle of the mean shape.
    """
    mean = model.mean.astype(np.float64)
    low, high = mean.min(axis=0), mean.max(axis=0)
    vertex_colours = (mean - low) / np.where(high > low, high - low, 1.0)
    return vertex_colours.astype(np.float32), vertex_colours[model.triangles].mean(axis=1).astype(np.float32)


def project_vertices(shapes: np.ndarray, cameras: np.ndarray) -> np.ndarray:
    """Crop-pixel positions and depths of shapes seen through weak-perspective cameras.

    Parameters
    ----------
    shapes : np.ndarray
        ``(T, N, 3)`` vertices in model units.
    cameras : np.ndarray
        ``(T, 7)``.

    Returns
    -------
    np.ndarray
        ``(T, N, 3)`` float64: ``s · R · X + [tx, ty, 0]``, i.e. x, y in pixels and depth
        (smaller = nearer the viewer).
    """
    cameras = np.asarray(cameras, np.float64)
    shapes = np.asarray(shapes, np.float64)
    depth_axis = camera_rotation(cameras)[:, 2] * cameras[:, 0, None]
    return np.concatenate([project(cameras, shapes), (shapes @ depth_axis[:, :, None])], axis=-1)


class NMFCRenderer:
    """Renders NMFC images of one morphable model, ``batch`` frames per draw call and readback.

    Parameters
    ----------
    model : MorphableModel
    size : int
        Image side in pixels (the crop size).
    batch : int
        Frames per draw call; they share one framebuffer, a column of tiles (a power of two of them).
    colouring : str
        ``"flat"`` (one colour per triangle) or ``"vertex"`` (interpolated between vertices).
    """

    def __init__(self, model: MorphableModel, size: int = 256, batch: int = 16, colouring: str = "flat"):
        if colouring not in COLOURINGS:
            raise RenderError(f"colouring must be one of {', '.join(COLOURINGS)}, got {colouring!r}")
        if batch < 1 or size < 1:
            raise RenderError(f"batch and size must be positive, got {batch} and {size}")
        self.model, self.size, self.batch, self.colouring = model, size, batch, colouring
        # A power of two: with size a power of two too, the atlas transform is exact in float32, so a
        # frame covers the same pixels in every tile; only depth, interpolated from the atlas origin,
        # rounds differently, which can flip pixels where two surfaces meet at equal depth.
        self.tiles = 1 << math.ceil(math.log2(batch))
        ctx = self._ctx = gl_context()
        if self.tiles * size > ctx.info["GL_MAX_VIEWPORT_DIMS"][1]:
            raise RenderError(f"a batch of {batch} frames of {size}² pixels does not fit in one framebuffer")
        vertex_colours, triangle_colours = nmfc_colours(model)
        self._program = ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        uniforms = {
            "n_vertices": model.n_vertices,
            "n_triangles": len(model.triangles),
            "size": float(size),
            "atlas": (float(size), float(self.tiles * size)),
            "flat_colour": colouring == "flat",
        }
        for name, value in uniforms.items():
            if name in self._program:
                self._program[name].value = value
        self._positions = ctx.buffer(reserve=batch * model.n_vertices * 3 * 4)
        self._vertex_colours = ctx.buffer(vertex_colours.tobytes())
        self._triangle_colours = ctx.buffer(triangle_colours.tobytes())
        index_buffer = ctx.buffer(model.triangles.tobytes())
        self._vao = ctx.vertex_array(self._program, [], index_buffer=index_buffer, index_element_size=4)
        self._fbo = ctx.framebuffer(
            ctx.renderbuffer((size, self.tiles * size)),
            ctx.depth_renderbuffer((size, self.tiles * size)),
        )

    def render(self, shapes: np.ndarray, cameras: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """NMFC images of shapes seen through cameras.

        Parameters
        ----------
        shapes : np.ndarray
            ``(T, N, 3)`` vertices in model units.
        cameras : np.ndarray
            ``(T, 7)`` cameras (:mod:`headgan_prep.fit.camera`).
        valid : np.ndarray, optional
            ``(T,)`` bool; invalid frames, and frames with a non-finite camera or shape, are black.

        Returns
        -------
        np.ndarray
            ``(T, size, size, 3)`` uint8.
        """
        shapes = np.asarray(shapes)
        cameras = np.asarray(cameras, np.float64)
        n_frames = len(shapes)
        if shapes.shape[1:] != (self.model.n_vertices, 3) or cameras.shape != (n_frames, CAMERA_SIZE):
            raise RenderError(
                f"expected shapes (T, {self.model.n_vertices}, 3) and cameras (T, {CAMERA_SIZE}), "
                f"got {shapes.shape} and {cameras.shape}"
            )
        valid = np.ones(n_frames, bool) if valid is None else np.asarray(valid, bool)
        images = np.zeros((n_frames, self.size, self.size, 3), np.uint8)
        for start in range(0, n_frames, self.batch):
            frames = np.arange(start, min(start + self.batch, n_frames))
            projected = project_vertices(shapes[frames], cameras[frames])
            finite = valid[frames] & np.isfinite(projected).all(axis=(1, 2))
            if finite.any():
                images[frames[finite]] = self._draw(projected[finite].astype(np.float32))
        return images

    def _draw(self, projected: np.ndarray) -> np.ndarray:
        """``(K, size, size, 3)`` uint8 images of ``(K, N, 3)`` projected vertices, K ≤ batch."""
        n_frames, size = len(projected), self.size
        # Each frame's depths map onto [-0.9, 0.9] of the clip volume, whatever else is in the batch.
        projected[..., :2] = np.round(projected[..., :2] * SUBPIXELS) / SUBPIXELS
        depth = projected[..., 2]
        low, high = depth.min(axis=1, keepdims=True), depth.max(axis=1, keepdims=True)
        projected[..., 2] = 1.8 * (depth - low) / np.maximum(high - low, 1e-6) - 0.9
        self._positions.write(projected.tobytes())
        self._positions.bind_to_storage_buffer(0)
        self._vertex_colours.bind_to_storage_buffer(1)
        self._triangle_colours.bind_to_storage_buffer(2)
        ctx = self._ctx
        self._fbo.use()
        self._fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(ctx.DEPTH_TEST)
        for plane in range(4):
            ctx.enable_direct(GL_CLIP_DISTANCE0 + plane)
        self._vao.render(vertices=3 * len(self.model.triangles), instances=n_frames)
        atlas = np.frombuffer(self._fbo.read(components=3), np.uint8)
        return atlas.reshape(self.tiles, size, size, 3)[:n_frames]

    def render_clip(
        self, identity: np.ndarray, expression: np.ndarray, camera: np.ndarray, valid: np.ndarray | None = None
    ) -> np.ndarray:
        """NMFC images of a fitted clip.

        Parameters
        ----------
        identity : np.ndarray
            ``(n_id,)``.
        expression : np.ndarray
            ``(T, n_exp)``.
        camera : np.ndarray
            ``(T, 7)``.
        valid : np.ndarray, optional
            ``(T,)`` bool; invalid frames are black.

        Returns
        -------
        np.ndarray
            ``(T, size, size, 3)`` uint8.
        """
        expression = np.asarray(expression, np.float32)
        identity = np.broadcast_to(np.asarray(identity, np.float32), (len(expression), self.model.n_id))
        shapes = self.model.shapes(identity, expression)
        return self.render(shapes, camera, valid)

    def render_parameters(self, parameters: FaceParameters, valid: np.ndarray | None = None) -> np.ndarray:
        """NMFC images of reenactment or editing parameters (:mod:`headgan_prep.fit.parameters`).

        Parameters
        ----------
        parameters : FaceParameters
            e.g. from :func:`~headgan_prep.fit.parameters.adapt_identity` (reference identity, driving
            expression and camera) or :func:`~headgan_prep.fit.parameters.edit` (frontal camera, edited
            expression).
        valid : np.ndarray, optional
            ``(T,)`` bool; invalid frames are black.

        Returns
        -------
        np.ndarray
            ``(T, size, size, 3)`` uint8.
        """
        return self.render_clip(parameters.identity, parameters.expression, parameters.camera, valid)
