import numpy as np
import pytest
from scipy import ndimage

from tests.face_3dmm import bumpy_head
from headgan_prep.fit.camera import FRONTAL_ROTATION
from headgan_prep.render.raster_reference import rasterise
from headgan_prep.fit.parameters import FaceParameters, adapt_identity, edit
from headgan_prep.render.renderer import NMFCRenderer, RenderError, gl_context, nmfc_colours, project_vertices
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion


def cameras(n_frames, seed):
    """Random poses, yaw ±60° included, scales and translations (some faces leave the crop)."""
    rng = np.random.default_rng(seed)
    euler = np.c_[rng.uniform(-30, 30, n_frames), rng.uniform(-60, 60, n_frames), rng.uniform(-30, 30, n_frames)]
    euler[:2, 1] = (60, -60)
    rotation = matrix_to_quaternion(FRONTAL_ROTATION @ euler_to_matrix(euler))
    return np.c_[rng.uniform(0.6, 1.3, n_frames), rotation, rng.uniform(60, 200, (n_frames, 2))]


def random_shapes(model, n_frames, seed):
    rng = np.random.default_rng(seed)
    return model.shapes(rng.normal(size=(n_frames, model.n_id)) * 15, rng.normal(size=(n_frames, model.n_exp)) * 10)


def reference(model, shapes, camera):
    _, triangle_colours = nmfc_colours(model)
    projected = project_vertices(shapes[None], camera[None])[0]
    return rasterise(projected, model.triangles, triangle_colours, (256, 256))


def near_edge(ids):
    """Pixels whose 3 × 3 neighbourhood holds more than one triangle id (background included)."""
    return (ndimage.maximum_filter(ids, size=3) != ids) | (ndimage.minimum_filter(ids, size=3) != ids)


@pytest.fixture(scope="module")
def model():
    return bumpy_head()


def test_images_match_the_reference_rasteriser(model):
    shapes, camera = random_shapes(model, 12, 1), cameras(12, 2)
    camera[2, 5:7] = (10, 250)  # partly outside the crop
    images = NMFCRenderer(model, batch=5).render(shapes, camera)
    _, triangle_colours = nmfc_colours(model)
    for image, shape, cam in zip(images, shapes, camera):
        expected, ids = reference(model, shape, cam)
        differ = (image != expected).any(-1)
        edges = near_edge(ids)
        assert differ.mean() <= 0.005
        assert not (differ & ~edges).any()
        # Away from edges the colour is the NMFC colour of the triangle the reference sees.
        inside = ~edges & (ids >= 0)
        decoded = image[inside] / 255.0
        assert np.abs(decoded - triangle_colours[ids[inside]]).max() <= 1 / 255
        assert inside.mean() > 0.05


def test_turned_faces_hide_parts_of_themselves(model):
    # Drawn without a depth test, the back of the head would show: the reference proves it does not.
    shape, camera = model.mean, cameras(2, 3)[0]  # yaw 60°
    expected, ids = reference(model, shape, camera)
    projected = project_vertices(shape[None], camera[None])[0]
    centre_depth = projected[model.triangles].mean(axis=1)[:, 2]
    visible = np.unique(ids[ids >= 0])
    hidden = np.setdiff1d(np.arange(len(model.triangles)), visible)
    assert centre_depth[visible].mean() < centre_depth[hidden].mean()
    image = NMFCRenderer(model, batch=1).render(shape[None], camera[None])[0]
    assert (image == expected).all(-1).mean() >= 0.995


def test_vertex_colouring_interpolates_between_the_triangle_corners(model):
    shapes, camera = random_shapes(model, 3, 4), cameras(3, 5)
    images = NMFCRenderer(model, colouring="vertex").render(shapes, camera)
    vertex_colours, _ = nmfc_colours(model)
    corners = vertex_colours[model.triangles]
    for image, shape, cam in zip(images, shapes, camera):
        _, ids = reference(model, shape, cam)
        inside = ~near_edge(ids) & (ids >= 0)
        decoded = image[inside] / 255.0
        assert (decoded >= corners[ids[inside]].min(axis=1) - 1 / 255).all()
        assert (decoded <= corners[ids[inside]].max(axis=1) + 1 / 255).all()
        assert not (image[ids < 0] > 0).any(-1)[~near_edge(ids)[ids < 0]].any()


def test_invalid_frames_are_black(model):
    shapes, camera = random_shapes(model, 7, 6), cameras(7, 7)
    camera[1] = np.nan
    valid = np.ones(7, bool)
    valid[4] = False
    images = NMFCRenderer(model, batch=3).render(shapes, camera, valid)
    assert not images[[1, 4]].any()
    assert all(images[k].any() for k in (0, 2, 3, 5, 6))
    np.testing.assert_array_equal(images[[0, 2]], NMFCRenderer(model, batch=3).render(shapes[[0, 2]], camera[[0, 2]]))


def test_batches_equal_single_frames_but_for_silhouette_ties(model):
    shapes, camera = random_shapes(model, 40, 10), cameras(40, 11)
    single = NMFCRenderer(model, batch=1).render(shapes, camera)
    for batch in (3, 64):
        batched = NMFCRenderer(model, batch=batch).render(shapes, camera)
        # The first tile of every batch is drawn exactly where a single frame is.
        np.testing.assert_array_equal(batched[::batch], single[::batch])
        differ = (batched != single).any(-1)
        assert differ.sum() <= 5
        for frame, row, column in zip(*np.nonzero(differ)):
            _, ids = reference(model, shapes[frame], camera[frame])
            assert near_edge(ids)[row, column]


def test_clips_and_reenactment_parameters_render_their_shapes(model):
    rng = np.random.default_rng(8)
    driving = FaceParameters(rng.normal(size=model.n_id) * 15, rng.normal(size=(3, model.n_exp)) * 10, cameras(3, 9))
    renderer = NMFCRenderer(model, batch=2)
    clip = renderer.render_clip(driving.identity, driving.expression, driving.camera)
    shapes = model.shapes(driving.identity, driving.expression)
    np.testing.assert_array_equal(clip, renderer.render(shapes, driving.camera))
    reference_identity = rng.normal(size=model.n_id) * 15
    adapted = renderer.render_parameters(adapt_identity(reference_identity, driving))
    np.testing.assert_array_equal(adapted, renderer.render_clip(reference_identity, driving.expression, driving.camera))
    assert not np.array_equal(adapted, clip)
    neutral_front = renderer.render_parameters(edit(driving, expression_scale=0.0, frontal=True))
    frontal = driving.camera.copy()
    frontal[:, 1:5] = (0, 1, 0, 0)
    neutral = np.broadcast_to(model.shapes(driving.identity, np.zeros(model.n_exp)), (3, model.n_vertices, 3))
    np.testing.assert_array_equal(neutral_front, renderer.render(neutral, frontal))


def test_bad_inputs_are_errors(model):
    renderer = NMFCRenderer(model, batch=2)
    with pytest.raises(RenderError, match="expected shapes"):
        renderer.render(np.zeros((2, 5, 3)), np.zeros((2, 7)))
    with pytest.raises(RenderError, match="colouring"):
        NMFCRenderer(model, colouring="smooth")
    size = gl_context().info["GL_MAX_VIEWPORT_DIMS"][1] // 32  # 64 tiles: twice the height allowed
    with pytest.raises(RenderError, match=f"a batch of 64 frames of {size}² pixels does not fit"):
        NMFCRenderer(model, size=size, batch=64)


def test_a_missing_egl_names_the_packages_to_install(monkeypatch):
    import moderngl

    def no_egl(**kwargs):
        raise Exception("libEGL.so: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_standalone_context", no_egl)
    with pytest.raises(RenderError, match="libegl1 libgl1 libegl-mesa0.*conda-forge"):
        gl_context.__wrapped__()
