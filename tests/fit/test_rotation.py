import numpy as np
import pytest

from headgan_prep.fit.rotation import (
    euler_to_matrix,
    matrix_to_euler,
    matrix_to_quaternion,
    nearest_rotation,
    quaternion_to_matrix,
)


def random_angles(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(-179, 179, n), rng.uniform(-89, 89, n), rng.uniform(-179, 179, n)]


def test_euler_matrix_round_trip_and_convention():
    angles = random_angles(500)
    rotations = euler_to_matrix(angles)
    assert np.allclose(rotations @ np.swapaxes(rotations, 1, 2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(rotations), 1)
    np.testing.assert_allclose(matrix_to_euler(rotations), angles, atol=1e-9)
    # R = Rz(roll) · Ry(yaw) · Rx(pitch)
    pitch, yaw, roll = (euler_to_matrix(np.eye(3)[i] * 30) for i in range(3))
    np.testing.assert_allclose(euler_to_matrix([30, 30, 30]), roll @ yaw @ pitch, atol=1e-15)
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    np.testing.assert_allclose(pitch, [[1, 0, 0], [0, c, -s], [0, s, c]], atol=1e-15)
    np.testing.assert_allclose(yaw, [[c, 0, s], [0, 1, 0], [-s, 0, c]], atol=1e-15)
    np.testing.assert_allclose(roll, [[c, -s, 0], [s, c, 0], [0, 0, 1]], atol=1e-15)


@pytest.mark.parametrize("yaw", [90.0, -90.0])
def test_gimbal_lock_keeps_the_rotation(yaw):
    rotations = euler_to_matrix([[25.0, yaw, 40.0], [-70.0, yaw, 0.0]])
    angles = matrix_to_euler(rotations)
    np.testing.assert_allclose(angles[:, 1], yaw)
    np.testing.assert_allclose(angles[:, 2], 0.0)
    np.testing.assert_allclose(euler_to_matrix(angles), rotations, atol=1e-12)


def test_quaternion_round_trip_has_non_negative_w():
    rotations = euler_to_matrix(random_angles(500, seed=1))
    # plus the half-turns, where w = 0 and Shepperd's cases matter
    half_turns = euler_to_matrix([[180, 0, 0], [0, 0, 180], [90, 0, 180], [180, 45, 0]])
    rotations = np.concatenate([rotations, half_turns])
    q = matrix_to_quaternion(rotations)
    assert (q[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1)
    np.testing.assert_allclose(quaternion_to_matrix(q), rotations, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(-q), rotations, atol=1e-12)
    np.testing.assert_allclose(matrix_to_quaternion(quaternion_to_matrix(q[:500])), q[:500], atol=1e-12)
    np.testing.assert_allclose(matrix_to_quaternion(np.eye(3)), [1, 0, 0, 0])


def test_nearest_rotation_projects_and_never_reflects():
    rng = np.random.default_rng(2)
    rotations = euler_to_matrix(random_angles(100, seed=3))
    np.testing.assert_allclose(nearest_rotation(rotations), rotations, atol=1e-12)
    noisy = nearest_rotation(rotations + rng.normal(size=rotations.shape) * 1e-3)
    assert np.abs(noisy - rotations).max() < 5e-3
    reflected = nearest_rotation(np.diag([1.0, 1.0, -1.0]) + rng.normal(size=(10, 3, 3)) * 1e-3)
    np.testing.assert_allclose(np.linalg.det(reflected), 1)
    np.testing.assert_allclose(
        reflected @ np.swapaxes(reflected, 1, 2), np.broadcast_to(np.eye(3), (10, 3, 3)), atol=1e-12
    )
