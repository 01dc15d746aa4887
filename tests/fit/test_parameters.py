import numpy as np
import pytest

from headgan_prep.fit.camera import head_rotation
from headgan_prep.fit.parameters import FaceParameters, adapt_identity, edit, frontal_camera
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion


def parameters(seed, n_frames=4):
    rng = np.random.default_rng(seed)
    quaternions = matrix_to_quaternion(euler_to_matrix(rng.uniform(-40, 40, (n_frames, 3))))
    camera = np.c_[rng.uniform(0.5, 2, n_frames), quaternions, rng.uniform(0, 256, (n_frames, 2))]
    return FaceParameters(rng.normal(size=6), rng.normal(size=(n_frames, 3)), camera)


def test_identity_adaptation_takes_reference_identity_and_driving_motion():
    reference, driving = parameters(0), parameters(1)
    adapted = adapt_identity(reference.identity, driving)
    assert adapted.identity.tobytes() == reference.identity.tobytes()
    assert adapted.expression.tobytes() == driving.expression.tobytes()
    assert adapted.camera.tobytes() == driving.camera.tobytes()
    with pytest.raises(ValueError, match="differ"):
        adapt_identity(np.zeros(5), driving)


def test_edit_makes_the_camera_frontal_and_scales_expression():
    original = parameters(2)
    edited = edit(original, expression_scale=[0.0, 1.0, 2.0], frontal=True)
    np.testing.assert_allclose(head_rotation(edited.camera), np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-7)
    np.testing.assert_array_equal(edited.camera[:, [0, 5, 6]], original.camera[:, [0, 5, 6]])
    np.testing.assert_array_equal(edited.expression, original.expression * [0, 1, 2])
    assert edit(original).camera.tobytes() == original.camera.tobytes()
    np.testing.assert_array_equal(frontal_camera(original.camera[0])[1:5], [0, 1, 0, 0])


def test_parameter_shapes_are_checked():
    with pytest.raises(ValueError, match="camera"):
        FaceParameters(np.zeros(3), np.zeros((4, 2)), np.zeros((3, 7)))
