"""Expression of the demo faces: a seeded talking-and-blinking schedule per clip, and the warp of a
portrait's photograph that shows it (the lower lip and jaw moved down over a dark mouth interior,
the upper eyelids moved down over the eyes).

The photographs show one expression each; a learned 3DMM needs faces that change within a clip to
have expression to learn, and tests need to know by how much they change. The warp is local and
exact by construction, so the schedule is the truth:

* **mouth opening** ``(T,)`` in [0, 1], a fraction of :data:`MOUTH_MAX_OPENING` mouth widths: how
  far the lower lip's middle moves down, away from the upper lip;
* **eye closure** ``(T,)`` in [0, 1], the fraction of each eye's height the upper lid moves down
  (1: the lid meets the lower lid). Both eyes blink together.

Geometry (portrait pixels, ``(x, y)``, x right, y down; see :class:`FacePoints`). Each feature has a
local frame: ``u`` along the line from its image-left to its image-right corner, ``v`` perpendicular
to it, pointing down the face. The maps are backward maps (output pixel → source pixel) applied with
``cv2.remap`` to a box around the feature only; columns ``u`` keep their place, only ``v`` changes.

Mouth. The lip line is the parabola through the two corners and the lips' middle. Below it, a point
``w`` pixels under the lip line is taken from ``w − d`` with ``d = g · q · f``: ``g`` the opening
(pixels), ``q = 1 − s²`` with ``s`` the position across the mouth (0 at the lips' middle, ±1 at the
corners; widened by up to :data:`JAW_WIDENING` towards the chin, so the jaw moves as one), ``f`` 1
down to :data:`JAW_DEPTH` mouth widths below the lip line (lower lip and chin move together) and a
cosine fade to 0 over :data:`NECK_DEPTH` more (the neck stretches). The map is monotonic in ``v``
while ``g < JAW_DEPTH`` mouth widths (``MOUTH_MAX_OPENING`` is less), so nothing folds. Output
points whose source lies above the lip line are the open mouth: filled with :data:`MOUTH_COLOUR`
(each pixel by the part of its height inside the opening).

Eyes. The upper and lower lids are the parabolas ``q = 1 − s²`` through the corners and the upper
and lower lid's middle. The lid margin moves from the upper lid's place down by ``closure`` of the
eye's height; the skin above the lid (a band :data:`LID_SKIN` eye heights high) is stretched from
its top edge down to the new margin, and its lower half (crease and lid) is tinted, by ``closure``,
towards the mean colour of its upper half (the skin under the brow), all but the lashes at the
margin (:data:`LASH_WIDTH`); below the margin the eye shows as before (the lid covers it, it does not
squash it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOUTH_MAX_OPENING = 0.5
"""Lower-lip displacement at full opening, mouth widths (corner to corner)."""
JAW_DEPTH = 0.75
"""Below the lip line, the jaw moves with the lower lip down to this depth, mouth widths."""
NECK_DEPTH = 0.75
"""Depth, mouth widths, over which the jaw's displacement fades to 0 below :data:`JAW_DEPTH`."""
JAW_WIDENING = 0.5
"""The opening's profile is ``1 + JAW_WIDENING`` times the mouth's width at :data:`JAW_DEPTH`."""
LID_SKIN = 1.0
"""Height of the skin band above the upper lid stretched over a closing eye, eye heights."""
LASH_WIDTH = 1.0
"""Pixels above a closing lid's margin kept as photographed (the lashes); the lid above them fades
to the skin's colour over as many more."""
MOUTH_COLOUR = (48, 18, 22)
"""RGB of the open mouth's interior."""

SYLLABLE_INTERVAL = (0.18, 0.34)
"""Range of the time from one syllable's opening to the next, seconds."""
SYLLABLE_DURATION = (0.22, 0.40)
"""Range of a syllable's opening-and-closing time, seconds."""
SYLLABLE_AMPLITUDE = (0.5, 1.0)
"""Range of a syllable's largest mouth opening (fraction of full opening)."""
FIRST_BLINK = (0.1, 0.7)
"""Range of the first blink's middle, seconds from the clip's start."""
BLINK_INTERVAL = (0.8, 1.8)
"""Range of the time between blinks, seconds."""
BLINK_DURATION = (0.20, 0.30)
"""Range of a blink's closing-and-opening time, seconds."""
BLINK_HOLD = 1.4
"""A blink's closure is ``min(1, BLINK_HOLD · pulse)``: fully closed for about a frame or two."""


@dataclass(frozen=True)
class FacePoints:
    """Where the mouth and eyes of a face photograph are, ``(x, y)`` pixels.

    Attributes
    ----------
    mouth : np.ndarray
        ``(3, 2)``: the image-left and image-right mouth corners, then the lips' middle (where the
        upper and lower lip meet).
    eyes : np.ndarray
        ``(2, 4, 2)``: the image-left eye, then the image-right one; of each, its image-left and
        image-right corner, then the middle of the upper and of the lower lid.
    """

    mouth: np.ndarray
    eyes: np.ndarray

    def mapped(self, matrix: np.ndarray) -> FacePoints:
        """The points through the ``(2, 3)`` affine ``matrix`` (``cv2.warpAffine`` convention)."""
        linear, shift = np.asarray(matrix, np.float64)[:, :2], np.asarray(matrix, np.float64)[:, 2]
        return FacePoints(self.mouth @ linear.T + shift, self.eyes @ linear.T + shift)

    @property
    def mouth_width(self) -> float:
        """Corner-to-corner distance of the mouth, pixels."""
        return float(np.linalg.norm(self.mouth[1] - self.mouth[0]))


@dataclass(frozen=True)
class Schedule:
    """A clip's expression: ``mouth`` ``(T,)`` opening and ``eyes`` ``(T,)`` closure, both in [0, 1]
    (module docstring)."""

    mouth: np.ndarray
    eyes: np.ndarray

    @classmethod
    def neutral(cls, n_frames: int) -> Schedule:
        """The photograph's own expression in every frame."""
        return cls(np.zeros(n_frames), np.zeros(n_frames))


def pulse(times: np.ndarray, middle: float, duration: float) -> np.ndarray:
    """Raised-cosine bump ``(T,)`` in [0, 1]: 1 at ``middle``, 0 from ``duration / 2`` away (seconds)."""
    phase = np.clip((times - middle) / duration, -0.5, 0.5)
    return 0.5 * (1.0 + np.cos(2.0 * np.pi * phase))


def talking_and_blinking(rng: np.random.Generator, times: np.ndarray) -> Schedule:
    """A seeded schedule over ``times`` (``(T,)`` seconds from 0).

    Mouth: syllables one after another (:data:`SYLLABLE_INTERVAL`), each a raised-cosine opening of
    :data:`SYLLABLE_DURATION` and :data:`SYLLABLE_AMPLITUDE`; the opening is the largest of them.
    Eyes: blinks from :data:`FIRST_BLINK` on, :data:`BLINK_INTERVAL` apart, each a raised-cosine
    closure of :data:`BLINK_DURATION` held shut by :data:`BLINK_HOLD`.
    """
    end = float(times[-1]) if len(times) else 0.0
    mouth = np.zeros(len(times))
    start = rng.uniform(0.0, SYLLABLE_INTERVAL[0])
    while start <= end:
        duration = rng.uniform(*SYLLABLE_DURATION)
        amplitude = rng.uniform(*SYLLABLE_AMPLITUDE)
        mouth = np.maximum(mouth, amplitude * pulse(times, start + duration / 2, duration))
        start += rng.uniform(*SYLLABLE_INTERVAL)
    eyes = np.zeros(len(times))
    middle = rng.uniform(*FIRST_BLINK)
    while middle - BLINK_DURATION[1] / 2 <= end:
        duration = rng.uniform(*BLINK_DURATION)
        eyes = np.maximum(eyes, np.minimum(1.0, BLINK_HOLD * pulse(times, middle, duration)))
        middle += rng.uniform(*BLINK_INTERVAL)
    return Schedule(mouth, eyes)


def express(rgba: np.ndarray, points: FacePoints, mouth: float, eyes: float) -> np.ndarray:
    """The portrait ``rgba`` (``(S, S, C)`` uint8) with its mouth opened by ``mouth`` and its eyes
    closed by ``eyes`` (both in [0, 1], module docstring); a new array, or ``rgba`` itself when
    both are 0."""
    if mouth <= 0.0 and eyes <= 0.0:
        return rgba
    out = np.array(rgba)
    if mouth > 0.0:
        open_mouth(out, points.mouth, mouth * MOUTH_MAX_OPENING * points.mouth_width)
    if eyes > 0.0:
        for eye in points.eyes:
            close_eye(out, eye, eyes)
    return out


def open_mouth(image: np.ndarray, mouth: np.ndarray, opening: float) -> None:
    """Move the lower lip and jaw of ``image`` (``(H, W, C)`` uint8, in place) down by ``opening``
    pixels at the lips' middle (module docstring); ``mouth`` as :attr:`FacePoints.mouth`."""
    left, right, middle = np.asarray(mouth, np.float64)
    width = float(np.linalg.norm(right - left))
    frame = _LocalFrame(left, right)
    u_mid, v_mid = frame.local(middle)
    jaw, neck = JAW_DEPTH * width, NECK_DEPTH * width
    spread = (1.0 + JAW_WIDENING) * max(u_mid, width - u_mid)
    box = frame.box(image.shape, (u_mid - spread - 2, u_mid + spread + 2), (min(0.0, v_mid) - 2, max(0.0, v_mid) + jaw + neck + 2))
    if box is None:
        return
    u, v = frame.grid(box)
    s = np.where(u < u_mid, (u - u_mid) / max(u_mid, 1e-6), (u - u_mid) / max(width - u_mid, 1e-6))
    below = v - v_mid * np.clip(1.0 - s * s, 0.0, 1.0)
    widen = 1.0 + JAW_WIDENING * np.clip(below / jaw, 0.0, 1.0)
    profile = np.clip(1.0 - (s / widen) ** 2, 0.0, 1.0)
    fade = 0.5 * (1.0 + np.cos(np.pi * np.clip((below - jaw) / neck, 0.0, 1.0)))
    shift = np.where(below >= 0.0, opening * profile * fade, 0.0)
    interior = np.clip(np.minimum(below + 0.5, shift) - np.maximum(below - 0.5, 0.0), 0.0, 1.0)[..., None]
    warped = frame.remap(image, box, u, v - shift)
    rgb = warped[..., :3].astype(np.float32)
    rgb += interior * (np.asarray(MOUTH_COLOUR, np.float32) - rgb)
    warped[..., :3] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = warped


def close_eye(image: np.ndarray, eye: np.ndarray, closure: float) -> None:
    """Move the upper lid of one eye of ``image`` (``(H, W, C)`` uint8, in place) down by ``closure``
    of the eye's height (module docstring); ``eye`` as one row of :attr:`FacePoints.eyes`."""
    left, right, upper, lower = np.asarray(eye, np.float64)
    width = float(np.linalg.norm(right - left))
    frame = _LocalFrame(left, right)
    up, down = -frame.local(upper)[1], frame.local(lower)[1]
    height = up + down
    box = frame.box(image.shape, (-1.0, width + 1.0), (-up - LID_SKIN * height - 2, down + 2))
    if box is None:
        return
    u, v = frame.grid(box)
    s = (u - width / 2) / (width / 2)
    q = np.clip(1.0 - s * s, 0.0, 1.0)
    top, skin = -up * q, LID_SKIN * height * q
    margin = top + closure * height * q
    band = (q > 0) & (v >= top - skin) & (v < margin)
    source_v = np.where(band, top - skin + (v - top + skin) * (LID_SKIN / (LID_SKIN + closure)), v)
    warped = frame.remap(image, box, u, source_v)
    x0, y0, x1, y1 = box
    upper_skin = (q > 0.3) & (v >= top - skin) & (v < top - skin / 2)
    if upper_skin.any():
        lid = band & (v >= top - skin / 2)
        weight = np.where(lid, closure * np.clip((margin - v - LASH_WIDTH) / LASH_WIDTH, 0.0, 1.0), 0.0)[..., None]
        colour = image[y0:y1, x0:x1][upper_skin][:, :3].astype(np.float32).mean(axis=0)
        rgb = warped[..., :3].astype(np.float32)
        warped[..., :3] = np.clip(np.rint(rgb + weight * (colour - rgb)), 0, 255).astype(np.uint8)
    image[y0:y1, x0:x1] = warped


@dataclass(frozen=True)
class _LocalFrame:
    """Coordinates ``(u, v)`` of a feature: origin at ``left``, ``u`` towards ``right``, ``v``
    perpendicular, down the face (image ``y`` down: ``v`` is ``u`` turned by +90°)."""

    left: np.ndarray
    right: np.ndarray

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        along = (self.right - self.left) / np.linalg.norm(self.right - self.left)
        return along, np.array([-along[1], along[0]])

    def local(self, point: np.ndarray) -> tuple[float, float]:
        """``(u, v)`` of an image point ``(2,)``."""
        along, across = self.axes
        offset = np.asarray(point, np.float64) - self.left
        return float(offset @ along), float(offset @ across)

    def box(
        self, shape: tuple[int, ...], u_range: tuple[float, float], v_range: tuple[float, float]
    ) -> tuple[int, int, int, int] | None:
        """Pixel box ``(x0, y0, x1, y1)`` (end exclusive) holding the local rectangle, inside an
        image of ``shape``; None when it is empty."""
        along, across = self.axes
        corners = np.array([self.left + a * along + b * across for a in u_range for b in v_range])
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
        x1 = min(int(np.ceil(corners[:, 0].max())) + 1, shape[1])
        y1 = min(int(np.ceil(corners[:, 1].max())) + 1, shape[0])
        return (int(x0), int(y0), x1, y1) if x1 > x0 and y1 > y0 else None

    def grid(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``(u, v)`` of every pixel of ``box``, two ``(y1 − y0, x1 − x0)`` arrays."""
        x0, y0, x1, y1 = box
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        along, across = self.axes
        dx, dy = xx - self.left[0], yy - self.left[1]
        return dx * along[0] + dy * along[1], dx * across[0] + dy * across[1]

    def remap(self, image: np.ndarray, box: tuple[int, int, int, int], u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``image`` sampled (bilinear, edges repeated) at the local points ``(u, v)``: an array of
        ``box``'s size."""
        along, across = self.axes
        map_x = (self.left[0] + u * along[0] + v * across[0]).astype(np.float32)
        map_y = (self.left[1] + u * along[1] + v * across[1]).astype(np.float32)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
