"""The 3DMM learned from landmarks: recovery of known subspaces, invariance, stores, triangles."""

import hashlib
import tracemalloc

import numpy as np
import pytest
import zarr
from scipy.linalg import subspace_angles
from scipy.spatial.transform import Rotation

from headgan_prep.cli import main
from headgan_prep.morphable import learn
from headgan_prep.landmarks.shard import SCHEMA
from headgan_prep.morphable.learn import (
    FACEMESH_POINTS,
    FACEMESH_TESSELLATION_FILE,
    LearnError,
    MorphableModelConfig,
    MorphableModelConfigError,
    delaunay_triangles,
    facemesh_triangles,
    learn_from_stores,
    learn_morphable_model,
    orient_front,
)
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.morphable.procrustes import align, generalized_procrustes, rms_radius, similarity_transforms
from headgan_prep.morphable.subspaces import RowScatter, learn_subspaces, principal_components

N_POINTS, ID_SD, EXP_SD = 60, np.array([8.0, 6.0, 5.0, 4.0]), np.array([4.0, 3.0, 2.5])


def generating_model(rng):
    """Mean (M, 3) in pixels and orthonormal id (3M, 4) ⟂ exp (3M, 3) bases, both orthogonal to the
    similarity motions of the mean (which the alignment removes)."""
    mean = rng.normal(size=(N_POINTS, 3)) * [40.0, 50.0, 20.0]
    centred = mean - mean.mean(axis=0)
    motions = [np.tile(np.eye(3)[i], N_POINTS) for i in range(3)]
    motions += [np.cross(np.eye(3)[i], centred).ravel() for i in range(3)] + [centred.ravel()]
    motions = np.linalg.qr(np.stack(motions, axis=1))[0]
    random = rng.normal(size=(3 * N_POINTS, len(ID_SD) + len(EXP_SD)))
    basis = np.linalg.qr(random - motions @ (motions.T @ random))[0]
    return mean, basis[:, : len(ID_SD)], basis[:, len(ID_SD) :]


def random_similarities(rng, shapes):
    """Each (M, 3) shape moved by a random rotation (≈ 11° sd per axis), scale and translation."""
    rotations = Rotation.from_rotvec(rng.normal(size=(len(shapes), 3)) * 0.2).as_matrix()
    scales = np.exp(rng.normal(size=len(shapes)) * 0.1)
    return scales[:, None, None] * (shapes @ np.swapaxes(rotations, 1, 2)) + rng.normal(size=(len(shapes), 1, 3)) * 20


@pytest.fixture(scope="module")
def synthetic():
    """Clips of (T, M, 3) shapes from the generating model, posed at random, with 0.05 px noise."""
    rng = np.random.default_rng(0)
    mean, id_basis, exp_basis = generating_model(rng)
    clips = []
    for _ in range(120):
        p_id = rng.normal(size=len(ID_SD)) * ID_SD
        p_exp = rng.normal(size=(60, len(EXP_SD))) * EXP_SD
        shapes = mean + (id_basis @ p_id + p_exp @ exp_basis.T).reshape(60, N_POINTS, 3)
        clips.append(random_similarities(rng, shapes + rng.normal(size=shapes.shape) * 0.05))
    return {"mean": mean, "id": id_basis, "exp": exp_basis, "clips": clips}


def in_frame_of(model: MorphableModel, mean: np.ndarray):
    """The model's bases rotated by the similarity taking its mean onto ``mean``."""
    _, rotation, _ = similarity_transforms(model.mean, mean)

    def rotate(basis):
        columns = basis.astype(np.float64).reshape(N_POINTS, 3, -1)
        return np.einsum("ij,mjk->mik", rotation, columns).reshape(3 * N_POINTS, -1)

    return rotate(model.id_basis), rotate(model.exp_basis)


def test_learned_subspaces_match_the_generating_ones(synthetic):
    cfg = MorphableModelConfig(n_id=len(ID_SD), n_exp=len(EXP_SD))
    model = learn_morphable_model(synthetic["clips"], cfg)
    assert (model.n_id, model.n_exp) == (4, 3) and model.n_vertices == N_POINTS
    id_basis, exp_basis = in_frame_of(model, synthetic["mean"])
    # errors of a few degrees remain from sampling (120 clips) and the similarity alignment's
    # second-order coupling of shape and scale; they shrink as clips are added
    assert np.degrees(subspace_angles(id_basis, synthetic["id"])).max() < 3.0
    assert np.degrees(subspace_angles(exp_basis, synthetic["exp"])).max() < 3.0
    # identity and expression are told apart: each learned basis is far from the other true one
    assert np.degrees(subspace_angles(id_basis, synthetic["exp"])).min() > 85.0
    assert np.degrees(subspace_angles(exp_basis, synthetic["id"])).min() > 85.0
    np.testing.assert_allclose(model.id_basis.T @ model.exp_basis, 0.0, atol=1e-5)
    # the mean is the generating mean up to a similarity
    residual = align(model.mean, synthetic["mean"]) - synthetic["mean"]
    assert np.sqrt((residual**2).sum(axis=1).mean()) < 0.5
    np.testing.assert_array_equal(model.fit_index, np.arange(N_POINTS))


def test_component_counts_are_capped_by_the_data(synthetic):
    model = learn_morphable_model(synthetic["clips"][:6], MorphableModelConfig(n_id=80, n_exp=28))
    assert (model.n_id, model.n_exp) == (5, 28)  # 6 clips → at most 5 identity directions
    rows = np.random.default_rng(1).normal(size=(50, 3)) @ np.random.default_rng(2).normal(size=(3, 20))
    components = principal_components(rows - rows.mean(axis=0), 10)
    assert components.shape == (20, 3)


@pytest.fixture(scope="module")
def clip_averages_differ():
    """Two clips per person; each clip holds one average expression (a smiling clip, a neutral
    one, ...) of sd 6 around which its frames vary with sd 2: the case that the clip means must not
    turn into identity directions."""
    rng = np.random.default_rng(7)
    mean, id_basis, exp_basis = generating_model(rng)
    clips, identities, truth = [], [], []
    for person in range(60):
        p_id = rng.normal(size=len(ID_SD)) * ID_SD
        for _ in range(2):
            p_exp = rng.normal(size=len(EXP_SD)) * 6.0 + rng.normal(size=(40, len(EXP_SD))) * 2.0
            shapes = mean + (id_basis @ p_id + p_exp @ exp_basis.T).reshape(40, N_POINTS, 3)
            truth.append(shapes)
            clips.append(random_similarities(rng, shapes + rng.normal(size=shapes.shape) * 0.05))
            identities.append(f"id{person:02d}")
    return {"mean": mean, "id": id_basis, "exp": exp_basis, "clips": clips, "identities": identities, "truth": truth}


def test_expression_differing_between_clips_stays_expression(clip_averages_differ):
    data = clip_averages_differ
    cfg = MorphableModelConfig(n_id=len(ID_SD), n_exp=len(EXP_SD), min_clips=1)
    model = learn_morphable_model(data["clips"], cfg, identities=data["identities"])
    id_basis, exp_basis = in_frame_of(model, data["mean"])
    assert np.degrees(subspace_angles(exp_basis, data["exp"])).max() < 3.0
    assert np.degrees(subspace_angles(id_basis, data["id"])).max() < 5.0
    np.testing.assert_allclose(model.id_basis.T @ model.exp_basis, 0.0, atol=1e-5)
    # with one identity per clip (the fit's Algorithm 1), the fitted shapes follow every frame
    from headgan_prep.fit.algorithm import FitConfig, Fitter

    fitter = Fitter(model, FitConfig())
    errors = []
    for shapes, truth in zip(data["clips"][:10], data["truth"][:10]):
        fit = fitter.fit(shapes * [1, -1, -1])
        fitted = model.shapes(np.broadcast_to(fit.identity, (len(shapes), model.n_id)), fit.expression)
        errors.append(np.sqrt(((align(fitted, truth[0]) - align(truth, truth[0])) ** 2).sum(-1).mean()))
    # px (0.02 measured; identity learned from clip means gave 0.42), expression offsets ≈ 6 px
    assert max(errors) < 0.1, errors


def test_identities_group_clips_and_short_data_warns(clip_averages_differ, tmp_path, caplog):
    data = clip_averages_differ
    cfg = MorphableModelConfig(n_id=80, n_exp=3, min_clips=20)
    with caplog.at_level("WARNING", logger="headgan_prep.morphable.learn"):
        model = learn_morphable_model(data["clips"][:8], cfg, identities=data["identities"][:8])
    assert model.n_id == 3  # 8 clips of 4 people: at most 3 identity directions
    assert model.warnings == (
        "learned 3DMM from only 8 clips of 4 identities (320 frames), fewer than min_clips=20: its bases "
        "hold little of real faces' variety",
        "learned 3DMM from only 8 clips of 4 identities (320 frames): 3 identity components of n_id=80",
    )
    assert [record.getMessage() for record in caplog.records] == list(model.warnings)
    model.save(tmp_path / "m.h5")
    assert MorphableModel.load(tmp_path / "m.h5").warnings == model.warnings
    enough = learn_morphable_model(data["clips"][:8], MorphableModelConfig(n_id=3, n_exp=3, min_clips=8),
                                   identities=data["identities"][:8])
    assert enough.warnings == ()
    store = write_store(tmp_path / "s.zarr", data["clips"][:4], identities=data["identities"][:4])
    assert "4 clips of 2 identities" in learn_from_stores([store], MorphableModelConfig(n_exp=3)).source


def test_learning_is_invariant_to_the_pose_of_each_frame(synthetic):
    rng = np.random.default_rng(3)
    cfg = MorphableModelConfig(n_id=4, n_exp=3, procrustes_iterations=10)
    first = learn_morphable_model(synthetic["clips"][:12], cfg)
    moved = learn_morphable_model([random_similarities(rng, clip) for clip in synthetic["clips"][:12]], cfg)
    id_first, exp_first = in_frame_of(first, first.mean)
    id_moved, exp_moved = in_frame_of(moved, first.mean)
    assert np.degrees(subspace_angles(id_first, id_moved)).max() < 0.1
    assert np.degrees(subspace_angles(exp_first, exp_moved)).max() < 0.1
    assert np.abs(align(moved.mean, first.mean) - first.mean).max() < 1e-3 * np.abs(first.mean).max()


def test_generalized_procrustes_aligns_similar_copies_exactly():
    rng = np.random.default_rng(4)
    shape = rng.normal(size=(30, 3))
    copies = random_similarities(rng, np.repeat(shape[None], 5, axis=0))
    reference, radius = generalized_procrustes([copies[:2], copies[2:]], 3)  # streamed in two batches
    np.testing.assert_allclose(align(copies, reference), np.repeat(reference[None], 5, axis=0), atol=1e-10)
    np.testing.assert_allclose(align(shape, reference), reference, atol=1e-10)
    assert radius == pytest.approx(rms_radius(copies).mean())
    _, rotation, _ = similarity_transforms(shape * [1, 1, -1], shape)
    assert np.linalg.det(rotation) == pytest.approx(1.0)  # a mirror image is not undone by a reflection


def write_store(path, clips, invalid_every=0, first=0, identities=None):
    """A landmark store (schema headgan.landmarks/1) holding the clips in crop axes (y down, z away),
    named ``clip{first + index:03d}``, with an ``identity`` attribute when ``identities`` are given."""
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    for index, shapes in enumerate(clips):
        points = (shapes * [1, -1, -1]).astype(np.float32)
        valid = np.ones(len(points), bool)
        if invalid_every:
            valid[::invalid_every] = False
            points[::invalid_every] = 1e4  # garbage that must not be read
        attributes = {} if identities is None else {"identity": identities[index]}
        group = root.create_group(f"clip{first + index:03d}", attributes=attributes)
        group.create_array("points", shape=points.shape, dtype=np.float32)[...] = points
        group.create_array("valid", shape=valid.shape, dtype=bool)[...] = valid
    root.attrs.update({"schema": SCHEMA, "shard": path.stem, "n_clips": len(clips)})
    return path


def test_stores_valid_frames_only_and_deterministic_bytes(tmp_path, synthetic):
    clips = [clip[:20] for clip in synthetic["clips"][:8]]
    stores = [write_store(tmp_path / "train-0000.zarr", clips[:5]), write_store(tmp_path / "train-0001.zarr", clips[5:], first=5)]
    cfg = MorphableModelConfig(n_id=4, n_exp=3, frames_per_clip=10)
    learn_from_stores(stores, cfg).save(tmp_path / "a.h5")
    learn_from_stores(stores, cfg).save(tmp_path / "b.h5")
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    padded = [np.concatenate([clip[:1], np.repeat(clip, 2, axis=0)[1:]]) for clip in clips]
    dirty = [write_store(tmp_path / "d0.zarr", padded[:5], 2), write_store(tmp_path / "d1.zarr", padded[5:], 2, first=5)]
    dirty_model = learn_from_stores(dirty, MorphableModelConfig(n_id=4, n_exp=3, frames_per_clip=40))
    clean_model = learn_from_stores(stores, MorphableModelConfig(n_id=4, n_exp=3, frames_per_clip=40))
    assert np.abs(dirty_model.mean).max() < 200  # no garbage frame was read
    np.testing.assert_allclose(dirty_model.mean, clean_model.mean, atol=1e-3)
    assert "8 clips of 8 identities (160 frames) of 2 landmark stores" in clean_model.source


def test_store_problems_are_clear_errors(tmp_path, synthetic):
    one = write_store(tmp_path / "one.zarr", synthetic["clips"][:1])
    with pytest.raises(LearnError, match="at least 2 clips"):
        learn_from_stores([one], MorphableModelConfig())
    other = write_store(tmp_path / "other.zarr", [synthetic["clips"][1][:, :50]])
    with pytest.raises(LearnError, match="has 50 points per frame, clip000 has 60"):
        learn_from_stores([one, other], MorphableModelConfig())
    zarr.open_group(str(tmp_path / "crops.zarr"), mode="w").attrs["schema"] = "headgan.crops/1"
    with pytest.raises(LearnError, match="crops.zarr: not a landmark store"):
        learn_from_stores([tmp_path / "crops.zarr"], MorphableModelConfig())
    with pytest.raises(MorphableModelConfigError, match="morphable_model.file must name"):
        MorphableModelConfig(source="file")
    with pytest.raises(MorphableModelConfigError, match="n_exp must be an integer ≥ 1"):
        MorphableModelConfig.from_dict({"n_exp": 0})


def test_cli_learns_from_stores(tmp_path, synthetic, capsys):
    store = write_store(tmp_path / "train-0000.zarr", [clip[:10] for clip in synthetic["clips"][:5]])
    out = tmp_path / "learned.h5"
    argv = ["-q", "learn-3dmm", "--landmarks", str(store), "--out", str(out), "--settings", '{"n_exp": 2}']
    assert main(argv) == 0
    model = MorphableModel.load(out)
    assert (model.n_id, model.n_exp, model.name) == (4, 2, "learned")
    with pytest.raises(SystemExit, match="at least 2 clips"):
        main(["-q", "learn-3dmm", "--landmarks", str(write_store(tmp_path / "x.zarr", synthetic["clips"][:1])),
              "--out", str(tmp_path / "x.h5")])
    assert not (tmp_path / "x.h5").exists()


def test_delaunay_triangles_are_valid_and_counter_clockwise():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(80, 3))
    points = np.concatenate([points, points[:3]])  # regressors repeat points (insightface's iBUG 68)
    triangles = delaunay_triangles(points)
    assert triangles.dtype == np.int32 and triangles.shape[1] == 3 and triangles.max() < len(points)
    assert len(set(map(tuple, np.sort(triangles, axis=1)))) == len(triangles)
    assert (signed_areas(triangles, points) > 0).all()


def signed_areas(triangles, points):
    a, b, c = (points[triangles[:, i], :2] for i in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def test_orient_front_flips_a_consistent_mesh_as_a_whole():
    rng = np.random.default_rng(6)
    points = rng.normal(size=(40, 3))
    triangles = delaunay_triangles(points)
    np.testing.assert_array_equal(orient_front(triangles[:, ::-1], points), triangles)


def test_facemesh_tessellation_parser(tmp_path):
    (tmp_path / "ok.py").write_text(
        '"""Connections."""\nFACEMESH_TESSELATION = frozenset([(0, 1), (1, 2), (2, 0),\n  (0, 2), (2, 3), (3, 0)])\n'
    )
    np.testing.assert_array_equal(facemesh_triangles(tmp_path / "ok.py"), [[0, 1, 2], [0, 2, 3]])
    (tmp_path / "bad.py").write_text("FACEMESH_TESSELATION = frozenset([(0, 1), (1, 2), (3, 0)])\n")
    with pytest.raises(LearnError, match="bad.py: FACEMESH_TESSELATION is not a list of triangles"):
        facemesh_triangles(tmp_path / "bad.py")
    (tmp_path / "none.py").write_text("import os\nos.remove('x')\n")
    with pytest.raises(LearnError, match="none.py: no FACEMESH_TESSELATION"):
        facemesh_triangles(tmp_path / "none.py")


def test_mediapipe_tessellation_is_a_consistently_oriented_mesh(require_model):
    triangles = facemesh_triangles(require_model(FACEMESH_TESSELLATION_FILE))
    assert triangles.shape == (852, 3) and triangles.min() == 0 and triangles.max() == FACEMESH_POINTS - 1
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)
    assert len(np.unique(triangles)) == FACEMESH_POINTS


def umeyama(source, target):
    """``source`` (M, 3) moved onto ``target`` by its least-squares similarity, written out here."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    x, y = source - source_centre, target - target_centre
    u, singular, vt = np.linalg.svd(y.T @ x)
    signs = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ np.diag(signs) @ vt
    return (singular * signs).sum() / (x**2).sum() * x @ rotation.T + target_centre


def learned_directly(clips, identities, n_id, n_exp, iterations):
    """The learning method on all frames in memory, frame by frame (module docstring of learn.py):
    mean (M, 3), identity (3M, n_id) and expression (3M, n_exp) bases, by SVD of the deviations."""
    lengths = [len(clip) for clip in clips]
    frames = np.concatenate(clips).astype(np.float64)
    centred = frames - frames.mean(axis=1, keepdims=True)
    radii = np.sqrt((centred**2).sum(axis=2).mean(axis=1))

    def normalised(shape):
        shape = shape - shape.mean(axis=0)
        return shape / np.sqrt((shape**2).sum(axis=1).mean())

    reference = normalised((centred / radii[:, None, None]).mean(axis=0))
    for _ in range(iterations):
        aligned = np.stack([umeyama(frame, reference) for frame in frames])
        reference = normalised(aligned.mean(axis=0))
    aligned = aligned.reshape(len(frames), -1) * radii.mean()
    ends = np.cumsum(lengths)
    clip_means = np.stack([aligned[end - n : end].mean(axis=0) for end, n in zip(ends, lengths)])
    exp_basis = np.linalg.svd(aligned - np.repeat(clip_means, lengths, axis=0), full_matrices=False)[2][:n_exp].T
    centre = clip_means.mean(axis=0)
    compensated = clip_means - (clip_means - centre) @ exp_basis @ exp_basis.T
    people = sorted(set(identities))
    identity_means = np.stack([compensated[[p == person for p in identities]].mean(axis=0) for person in people])
    mean = identity_means.mean(axis=0)
    id_basis = np.linalg.svd(identity_means - mean, full_matrices=False)[2][:n_id].T
    return mean.reshape(-1, 3), id_basis, exp_basis


def assert_same_basis(learned, expected, atol):
    assert learned.shape == expected.shape
    signs = np.sign((learned * expected).sum(axis=0))
    np.testing.assert_allclose(learned * signs, expected, atol=atol)


@pytest.mark.parametrize("n_clips, n_frames", [(16, 20), (8, 10)])  # more, fewer frames than 3M = 180
# clips of different lengths, so that weighting clips by their frames would show
def test_streamed_learning_equals_the_method_on_all_frames(synthetic, n_clips, n_frames):
    clips = [clip[: n_frames + 3 * (i % 3)] for i, clip in enumerate(synthetic["clips"][:n_clips])]
    identities = [f"person{i // 2}" for i in range(n_clips)]  # two clips per person
    n_id = n_clips // 2 - 1
    cfg = MorphableModelConfig(n_id=n_id, n_exp=3, procrustes_iterations=4, min_clips=1)
    model = learn_morphable_model(clips, cfg, identities=identities)
    mean, id_basis, exp_basis = learned_directly(clips, identities, n_id, 3, 4)
    np.testing.assert_allclose(model.mean, mean, atol=1e-5)  # float32 in the model, values ≈ 100 px
    assert_same_basis(model.exp_basis, exp_basis, 1e-7)
    assert_same_basis(model.id_basis, id_basis, 1e-7)


def test_stores_learn_what_the_method_gives_on_the_chosen_frames(tmp_path, synthetic):
    clips = [clip[:20] for clip in synthetic["clips"][:10]]
    identities = [f"person{i % 4}" for i in range(10)]
    stores = [
        write_store(tmp_path / "a.zarr", clips[:6], invalid_every=2, identities=identities[:6]),
        write_store(tmp_path / "b.zarr", clips[6:], invalid_every=2, first=6, identities=identities[6:]),
    ]
    cfg = MorphableModelConfig(n_id=3, n_exp=3, frames_per_clip=4, procrustes_iterations=3)
    model = learn_from_stores(stores, cfg)
    # valid frames 1, 3, …, 19; four evenly spaced of them: 1, 7, 13, 19; stored as float32, y and z flipped
    chosen = [(clip[[1, 7, 13, 19]] * [1, -1, -1]).astype(np.float32) * [1, -1, -1] for clip in clips]
    mean, id_basis, exp_basis = learned_directly(chosen, identities, 3, 3, 3)
    np.testing.assert_allclose(model.mean, mean, atol=1e-5)
    assert_same_basis(model.exp_basis, exp_basis, 1e-7)
    assert_same_basis(model.id_basis, id_basis, 1e-7)
    assert "10 clips of 4 identities (40 frames) of 2 landmark stores" in model.source


def test_max_clips_learns_from_a_hash_sample_of_the_clips(tmp_path, synthetic):
    clips = [clip[:12] for clip in synthetic["clips"][:24]]
    ids = [f"clip{i:03d}" for i in range(24)]
    stores = [write_store(tmp_path / "a.zarr", clips[:13]), write_store(tmp_path / "b.zarr", clips[13:], first=13)]
    fraction = 10 / 24
    # the sample, computed here from the ids' SHA-1 as the docstring says
    kept = [i for i, clip_id in enumerate(ids)
            if int(hashlib.sha1(clip_id.encode()).hexdigest()[:16], 16) / 2**64 < fraction]
    assert 4 <= len(kept) < 24
    cfg = MorphableModelConfig(n_id=3, n_exp=3, frames_per_clip=12, procrustes_iterations=2, max_clips=10)
    model = learn_from_stores(stores, cfg)
    assert f"{len(kept)} clips of {len(kept)} identities" in model.source and "max_clips 10" in model.source
    chosen = [(clips[i] * [1, -1, -1]).astype(np.float32) * [1, -1, -1] for i in kept]
    mean, id_basis, exp_basis = learned_directly(chosen, [ids[i] for i in kept], 3, 3, 2)
    np.testing.assert_allclose(model.mean, mean, atol=1e-5)
    assert_same_basis(model.exp_basis, exp_basis, 1e-7)
    # the same sample whatever the order of the stores; every clip when max_clips is not reached
    reordered = learn_from_stores(stores[::-1], cfg)
    assert f"{len(kept)} clips" in reordered.source
    assert "24 clips" in learn_from_stores(stores, MorphableModelConfig(n_id=3, n_exp=3, max_clips=24)).source


class CountedPasses(list):
    """A list of clips that counts how often it is iterated."""

    passes = 0

    def __iter__(self):
        self.passes += 1
        return super().__iter__()


def test_learning_takes_iterations_plus_one_passes(synthetic):
    clips = CountedPasses((str(i), clip[:10]) for i, clip in enumerate(synthetic["clips"][:4]))
    learn_subspaces(clips, n_id=2, n_exp=3, iterations=5)
    assert clips.passes == 1 + 5 + 1  # the check for two clips (two clips read), 5 alignment rounds, statistics


@pytest.mark.parametrize("n_rows", [3, 23])  # fewer rows than D (Gram matrix), more (scatter matrix)
def test_row_scatter_gives_the_components_of_all_rows_added_in_pieces(n_rows):
    rows = np.random.default_rng(8).normal(size=(n_rows, 4)) * [5.0, 3.0, 2.0, 1.0]
    rows -= rows.mean(axis=0)
    deviations = RowScatter(4)  # a block of 4 rows: pieces fill, overflow and leave it partly filled
    for piece in np.split(rows, [1, 2, 2, 6, 13, 21]):
        deviations.add(piece)
    expected = np.linalg.svd(rows, full_matrices=False)[2][: min(n_rows - 1, 4)].T
    assert_same_basis(deviations.components(4), expected, 1e-12)


def test_memory_does_not_grow_with_the_clips(tmp_path, synthetic, monkeypatch):
    monkeypatch.setattr(learn, "CLIP_CACHE_BYTES", 0)
    clips = [clip[:20] for clip in synthetic["clips"][:20]]
    people = [f"person{i % 4}" for i in range(20)]
    stores = [write_store(tmp_path / f"s{i}.zarr", clips, first=20 * i, identities=people) for i in range(8)]
    cfg = MorphableModelConfig(n_id=3, n_exp=3, procrustes_iterations=2)

    def peak(chosen):
        tracemalloc.start()
        learn_from_stores(chosen, cfg)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    peak(stores[:1])
    # holding the frames, 140 more clips of 20 frames would take 140 · 20 · 180 · 8 B = 4 MB per copy
    assert peak(stores) - peak(stores[:2]) < 0.5e6


def test_small_splits_are_read_once_and_give_the_same_model(tmp_path, synthetic, monkeypatch):
    clips = [clip[:20] for clip in synthetic["clips"][:10]]
    stores = [write_store(tmp_path / "a.zarr", clips[:6]), write_store(tmp_path / "b.zarr", clips[6:], first=6)]
    cfg = MorphableModelConfig(n_id=3, n_exp=3, procrustes_iterations=3)
    reads = []
    read = learn.LandmarkClips._read
    monkeypatch.setattr(learn.LandmarkClips, "_read", lambda self: (reads.append(1), (yield from read(self)))[1])
    cached = learn_from_stores(stores, cfg)
    # the first clip (the point set), the first two (the check for two clips), one whole pass kept for the rest
    assert len(reads) == 3
    reads.clear()
    monkeypatch.setattr(learn, "CLIP_CACHE_BYTES", 0)
    streamed = learn_from_stores(stores, cfg)
    assert len(reads) == 1 + 1 + 3 + 1  # first clip, the check for two clips, 3 rounds, statistics
    np.testing.assert_array_equal(cached.mean, streamed.mean)
    np.testing.assert_array_equal(cached.exp_basis, streamed.exp_basis)
    np.testing.assert_array_equal(cached.id_basis, streamed.id_basis)
