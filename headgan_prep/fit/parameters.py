"""Parameters for reenactment and editing, built from fitted ones (HeadGAN, Eq. 1).

Reenactment (identity adaptation): the shape of frame ``t`` takes the identity of the reference
clip and the expression and camera of the driving clip,
``s_t = x̄ + U_id p_id(reference) + U_exp p_exp(driving, t)``, seen through ``c(driving, t)``.
Editing: the camera turned frontal (head rotation identity, i.e. camera rotation
:data:`headgan_prep.fit.camera.FRONTAL_ROTATION`; same scale and translation) and the
expression scaled per component. All functions are pure; cameras are ``[s, qw, qx, qy, qz, tx,
ty]`` (:mod:`headgan_prep.fit.camera`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headgan_prep.fit.camera import CAMERA_SIZE, FRONTAL_QUATERNION


@dataclass(frozen=True)
class FaceParameters:
    """The parameters a renderer needs for ``T`` frames.

    Attributes
    ----------
    identity : np.ndarray
        ``(n_id,)`` float32.
    expression : np.ndarray
        ``(T, n_exp)`` float32.
    camera : np.ndarray
        ``(T, 7)`` float32.
    """

    identity: np.ndarray
    expression: np.ndarray
    camera: np.ndarray

    def __post_init__(self):
        identity = np.asarray(self.identity, np.float32)
        expression = np.asarray(self.expression, np.float32)
        camera = np.asarray(self.camera, np.float32)
        if identity.ndim != 1 or expression.ndim != 2 or camera.shape != (len(expression), CAMERA_SIZE):
            raise ValueError(
                f"expected identity (n_id,), expression (T, n_exp) and camera (T, {CAMERA_SIZE}), "
                f"got {identity.shape}, {expression.shape} and {camera.shape}"
            )
        object.__setattr__(self, "identity", identity)
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "camera", camera)


def adapt_identity(reference_identity: np.ndarray, driving: FaceParameters) -> FaceParameters:
    """Reenactment parameters: the reference's identity with the driving expression and camera.

    Parameters
    ----------
    reference_identity : np.ndarray
        ``(n_id,)`` identity of the reference (source) clip.
    driving : FaceParameters
        Fitted parameters of the driving clip.

    Returns
    -------
    FaceParameters
    """
    reference_identity = np.asarray(reference_identity, np.float32)
    if reference_identity.shape != driving.identity.shape:
        raise ValueError(
            f"reference identity {reference_identity.shape} and driving identity {driving.identity.shape} differ"
        )
    return FaceParameters(reference_identity, driving.expression, driving.camera)


def frontal_camera(camera: np.ndarray) -> np.ndarray:
    """Cameras that see the face frontal and upright (head rotation identity); scale and
    translation kept.

    Parameters
    ----------
    camera : np.ndarray
        ``(..., 7)``.

    Returns
    -------
    np.ndarray
        ``(..., 7)`` float32.
    """
    camera = np.array(camera, np.float32)
    camera[..., 1:5] = FRONTAL_QUATERNION
    return camera


def edit(
    parameters: FaceParameters, expression_scale: np.ndarray | float = 1.0, frontal: bool = False
) -> FaceParameters:
    """Edited parameters: expression scaled per component, optionally the camera made frontal.

    Parameters
    ----------
    parameters : FaceParameters
    expression_scale : np.ndarray or float
        ``(n_exp,)`` factors per expression component, or one factor for all (0: neutral face).
    frontal : bool
        Make every camera frontal (:func:`frontal_camera`).

    Returns
    -------
    FaceParameters
    """
    scale = np.broadcast_to(np.asarray(expression_scale, np.float32), parameters.expression.shape[1:])
    camera = frontal_camera(parameters.camera) if frontal else parameters.camera
    return FaceParameters(parameters.identity, parameters.expression * scale, camera)
