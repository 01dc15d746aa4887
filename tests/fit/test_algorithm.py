import numpy as np
import pytest
from scipy.optimize import lsq_linear

from tests.face_3dmm import synthetic_clip, synthetic_model
from headgan_prep.fit.camera import (
    FRONTAL_ROTATION,
    affine_camera,
    affine_to_camera,
    camera_rotation,
    head_rotation,
    project,
)
from headgan_prep.fit.algorithm import FitConfig, FitConfigError, FitError, Fitter, bounded_least_squares, similarity_align
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion

MODEL = synthetic_model()
LOOSE = {"bound_identity": 1e6, "bound_expression": 1e6}


def assert_recovers(fit, clip, parameter_tol, degree_tol, pixel_tol):
    assert fit.valid.all()
    np.testing.assert_allclose(fit.identity, clip.identity, atol=parameter_tol)
    np.testing.assert_allclose(fit.expression, clip.expression, atol=parameter_tol)
    np.testing.assert_allclose(fit.euler, clip.euler, atol=degree_tol)
    np.testing.assert_allclose(fit.camera[:, 0], clip.scale, rtol=degree_tol * np.pi / 180)
    np.testing.assert_allclose(fit.camera[:, 5:], clip.translation, atol=pixel_tol)


@pytest.mark.parametrize("solver", ["pinv", "bounded"])
def test_exact_points_give_the_parameters_back(solver):
    clip = synthetic_clip(MODEL)
    fit = Fitter(MODEL, FitConfig(solver=solver, iterations=12, **LOOSE)).fit(clip.points)
    scale = np.abs(clip.expression).max()
    assert_recovers(fit, clip, parameter_tol=1e-4 * scale, degree_tol=1e-4, pixel_tol=1e-4)
    assert fit.residual.max() < 1e-4
    assert np.abs(fit.euler[0] - [0, 60, 0]).max() < 1e-4  # the ±60° yaw frame


@pytest.mark.parametrize("solver", ["pinv", "bounded"])
def test_noisy_points_within_the_noise(solver):
    noise = 0.5
    clip = synthetic_clip(MODEL, n_frames=60, noise_px=noise, seed=3)
    fit = Fitter(MODEL, FitConfig(solver=solver, iterations=12, **LOOSE)).fit(clip.points)
    # Orthonormal bases at every vertex: each parameter's error has the std of the noise in model
    # units, noise / scale (≤ 2 here); the identity averages it over the frames.
    per_frame = noise / clip.scale
    assert np.all(np.abs(fit.expression - clip.expression) < 5 * per_frame[:, None])
    assert np.all(np.abs(fit.identity - clip.identity) < 5 * per_frame.max() / np.sqrt(len(per_frame)))
    # The affine camera's entries are least-squares estimates from 2D points: an angle's error is
    # about noise / (scale · rms extent of the face along its thinnest axis · √points) radians.
    radius = np.sqrt((MODEL.mean**2).mean(axis=0).min())
    assert np.all(
        np.abs(fit.euler - clip.euler) < 5 * np.degrees(per_frame / (radius * np.sqrt(MODEL.n_vertices)))[:, None]
    )
    # The residual is the 2D noise left after fitting: noise · √2 · √(1 − parameters / coordinates).
    expected = noise * np.sqrt(2 * (1 - (MODEL.n_id + MODEL.n_exp + 7) / (3 * MODEL.n_vertices)))
    assert 0.85 * expected < np.median(fit.residual) < 1.1 * expected


def test_single_pass_is_the_paper_and_iterations_refine_it():
    clip = synthetic_clip(MODEL)
    errors = []
    for iterations in (1, 2, 4):
        fit = Fitter(MODEL, FitConfig(iterations=iterations)).fit(clip.points)
        errors.append(np.abs(fit.expression - clip.expression).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] < 0.1 * np.abs(clip.expression).max()


def test_shape_parameters_do_not_depend_on_a_similarity_of_the_points():
    clip = synthetic_clip(MODEL, noise_px=0.3)
    fitter = Fitter(MODEL, FitConfig())
    moved = 1.7 * clip.points @ euler_to_matrix([10, -25, 40]).T.astype(np.float32) + np.float32([30, -12, 5])
    first, second = fitter.fit(clip.points), fitter.fit(moved)
    scale = np.abs(first.expression).max()
    np.testing.assert_allclose(second.identity, first.identity, atol=1e-4 * scale)
    np.testing.assert_allclose(second.expression, first.expression, atol=1e-4 * scale)


def test_pinv_and_loosely_bounded_solvers_agree_and_bounds_hold():
    clip = synthetic_clip(MODEL, noise_px=0.3)
    pinv = Fitter(MODEL, FitConfig()).fit(clip.points)
    loose = Fitter(MODEL, FitConfig(solver="bounded", **LOOSE)).fit(clip.points)
    np.testing.assert_allclose(loose.expression, pinv.expression, atol=1e-3)
    np.testing.assert_allclose(loose.camera, pinv.camera, atol=1e-3)
    tight = Fitter(MODEL, FitConfig(solver="bounded", bound_identity=15.0, bound_expression=5.0)).fit(clip.points)
    assert np.abs(tight.identity).max() <= 15.0 + 1e-5 and np.abs(tight.expression).max() <= 5.0 + 1e-5
    assert np.isclose(np.abs(tight.expression).max(), 5.0) and tight.valid.all()


@pytest.mark.parametrize("method", ["bvls", "trf"])
def test_reduced_bounded_solve_equals_the_full_one(method):
    rng = np.random.default_rng(4)
    basis = rng.normal(size=(600, 25))
    targets = rng.normal(size=(6, 600)) * 3
    bound = np.r_[np.full(20, 0.2), np.full(5, 0.1)]
    q, r = np.linalg.qr(basis)
    reduced = bounded_least_squares(r, targets @ q, bound)
    for row, target in zip(reduced, targets):
        full = lsq_linear(basis, target, bounds=(-bound, bound), method=method, tol=1e-12).x
        np.testing.assert_allclose(row, full, atol=1e-6)
    assert (np.abs(reduced) >= bound - 1e-12).any()  # the bounds are active


def test_bad_frames_are_invalid_and_the_rest_unchanged():
    clip = synthetic_clip(MODEL, noise_px=0.3)
    points = clip.points.copy()
    points[3, 5, 0] = np.nan
    points[5, 0, 2] = np.inf
    points[7] = np.linspace(0, 1, MODEL.n_vertices)[:, None] * [1, 2, 3]  # collinear
    points[9] = 100.0  # one point
    valid = np.ones(len(points), bool)
    valid[11] = False
    fitter = Fitter(MODEL, FitConfig())
    fit = fitter.fit(points, valid)
    bad = [3, 5, 7, 9, 11]
    assert np.flatnonzero(~fit.valid).tolist() == bad
    for name in ("expression", "camera", "euler", "residual"):
        assert np.isnan(getattr(fit, name)[bad]).all() and np.isfinite(getattr(fit, name)[fit.valid]).all()
    keep = np.setdiff1d(np.arange(len(points)), bad)
    clean = fitter.fit(clip.points[keep])
    np.testing.assert_allclose(fit.identity, clean.identity, rtol=1e-5)
    np.testing.assert_allclose(fit.expression[keep], clean.expression, rtol=1e-4, atol=1e-4)

    nothing = fitter.fit(points, np.zeros(len(points), bool))
    assert not nothing.valid.any() and np.isnan(nothing.identity).all() and np.isnan(nothing.camera).all()
    empty = fitter.fit(np.zeros((0, MODEL.n_vertices, 3)))
    assert empty.expression.shape == (0, MODEL.n_exp) and np.isnan(empty.identity).all()


def test_wrong_shapes_are_clear_errors():
    with pytest.raises(FitError, match=r"\(T, 300, 3\).*got \(4, 299, 3\)"):
        Fitter(MODEL, FitConfig()).fit(np.zeros((4, 299, 3)))
    with pytest.raises(FitError, match=r"valid must be \(4,\)"):
        Fitter(MODEL, FitConfig()).fit(np.zeros((4, 300, 3)), np.ones(5, bool))


def test_fit_is_deterministic():
    clip = synthetic_clip(MODEL, noise_px=0.3)
    first, second = (Fitter(MODEL, FitConfig()).fit(clip.points) for _ in range(2))
    for name in ("identity", "expression", "camera", "euler", "residual", "valid"):
        assert getattr(first, name).tobytes() == getattr(second, name).tobytes()


def test_moment_based_camera_equals_the_direct_least_squares():
    clip = synthetic_clip(MODEL, noise_px=1.0, seed=5)
    fit = Fitter(MODEL, FitConfig()).fit(clip.points)
    shapes = MODEL.shapes(fit.identity, fit.expression)
    direct = affine_to_camera(affine_camera(shapes, clip.points[..., :2]))
    np.testing.assert_allclose(fit.camera, direct, rtol=1e-4, atol=1e-3)
    residual = np.sqrt(((project(direct, shapes) - clip.points[..., :2]) ** 2).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose(fit.residual, residual, rtol=1e-3)


def test_affine_to_camera_recovers_scale_rotation_translation():
    rng = np.random.default_rng(6)
    rotation = euler_to_matrix(rng.uniform(-80, 80, (50, 3)))
    scale, translation = rng.uniform(0.1, 3, 50), rng.uniform(-100, 100, (50, 2))
    affine = np.concatenate([scale[:, None, None] * rotation[:, :2], translation[..., None]], axis=2)
    camera = affine_to_camera(affine)
    np.testing.assert_allclose(camera[:, 0], scale)
    np.testing.assert_allclose(camera_rotation(camera), rotation, atol=1e-12)
    np.testing.assert_allclose(camera[:, 1:5], matrix_to_quaternion(rotation), atol=1e-12)
    np.testing.assert_allclose(camera[:, 5:], translation)
    # A general 2 × 3 part: the rows become U Vᵀ of its SVD, the scale the mean singular value.
    linear = rng.normal(size=(50, 2, 3))
    camera = affine_to_camera(np.concatenate([linear, translation[..., None]], axis=2))
    u, sigma, vt = np.linalg.svd(linear, full_matrices=False)
    np.testing.assert_allclose(camera_rotation(camera)[:, :2], u @ vt, atol=1e-10)
    np.testing.assert_allclose(camera[:, 0], sigma.mean(axis=1))
    assert np.isnan(affine_to_camera(np.zeros((1, 2, 4)))).all()
    assert np.isnan(affine_camera(np.zeros((1, 5, 3)), np.ones((1, 5, 2)))).all()


def test_frontal_face_has_zero_angles():
    camera = np.r_[2.0, matrix_to_quaternion(FRONTAL_ROTATION), 128, 128][None]
    np.testing.assert_allclose(head_rotation(camera), np.eye(3)[None], atol=1e-12)
    forehead_and_chin = project(camera, np.array([[0.0, 50, 0], [0, -50, 0]]))
    assert forehead_and_chin[0, 0, 1] < forehead_and_chin[0, 1, 1]  # forehead above the chin in the image


def test_similarity_align_undoes_a_similarity():
    rng = np.random.default_rng(7)
    targets = MODEL.mean
    rotation = euler_to_matrix(rng.uniform(-90, 90, (5, 3)))
    points = 0.3 * targets @ np.swapaxes(rotation, 1, 2) + rng.normal(size=(5, 1, 3)) * 50
    np.testing.assert_allclose(similarity_align(points, targets), np.broadcast_to(targets, points.shape), atol=1e-3)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"solver": "lstsq"}, "fit.solver"),
        ({"bound_identity": 0}, "bound_identity"),
        ({"iterations": 0}, "iterations"),
        ({"min_valid_fraction": 1.5}, "min_valid_fraction"),
        ({"max_residual_px": -1}, "max_residual_px"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_settings_are_refused(values, message):
    with pytest.raises(FitConfigError, match=message):
        FitConfig.from_dict(values)
