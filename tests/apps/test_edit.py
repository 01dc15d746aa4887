"""Expression and pose editing: turned cameras, the cells of the grid and the grid pictures."""

import cv2
import numpy as np
import pytest

from headgan_model.apps.edit import TILE, edit_cells, edit_source, turned_camera
from headgan_model.apps.frontalise import SILENT, nmfc_pose
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_model.apps.tables import read_tsv
from headgan_prep.fit.camera import head_rotation
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_euler, matrix_to_quaternion
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def camera_at(pitch, yaw, roll):
    rotation = np.diag([1.0, -1, -1]) @ euler_to_matrix(np.array([[pitch, yaw, roll]]))
    return np.c_[[[0.5]], matrix_to_quaternion(rotation), [[60.0, 70.0]]]


def test_turned_cameras_add_the_degrees_and_keep_scale_and_translation():
    turned = turned_camera(camera_at(5, -10, 3), [0, 20, 0])
    np.testing.assert_allclose(matrix_to_euler(head_rotation(turned)), [[5, 10, 3]], atol=1e-4)
    np.testing.assert_allclose(turned[0, [0, 5, 6]], [0.5, 60, 70])


def test_cells_move_one_component_or_one_angle(apps_results):
    model = MorphableModel.load(apps_results.model)
    source = FaceParameters(np.zeros(model.n_id), np.zeros((1, model.n_exp)), camera_at(0, 0, 0) * [[0.4, 1, 1, 1, 1, 1, 1]])
    settings = AppsSettings.from_dict({"edit": {"components": 2, "amounts": [-1.0, 2.0], "angles": [-20.0, 20.0]}})
    cells, described = edit_cells(source, np.array([3.0, 4.0, 5.0]), settings)
    assert len(cells.expression) == len(described) == 2 * 2 + 3 * 2
    np.testing.assert_allclose(cells.expression[:4, :2], [[-3, 0], [6, 0], [0, -4], [0, 8]])
    assert [d["edit"] for d in described[4:]] == ["yaw", "yaw", "pitch", "pitch", "roll", "roll"]
    # the rendered pose edits show the angles they were given
    renderer = NMFCRenderer(model, size=128)
    shown = nmfc_pose(renderer.render_parameters(FaceParameters(cells.identity, cells.expression[4:], cells.camera[4:] + [0, 0, 0, 0, 0, 64, 64])), model)
    expected = np.array([[0, -20, 0], [0, 20, 0], [-20, 0, 0], [20, 0, 0], [0, 0, -20], [0, 0, 20]])
    assert np.abs(shown - expected).max() < 5, shown  # the affine fit of NMFC pixels is good to a few degrees
    with pytest.raises(AppsConfigError, match="components is 9"):
        edit_cells(source, np.ones(3), AppsSettings.from_dict({"edit": {"components": 9}}))


def test_the_grid_has_one_row_per_edit_and_the_source_first(apps_results, tmp_path):
    settings = AppsSettings.from_dict({"device": "cpu", "edit": {"source": "id4+d+1", "components": 2}})
    rows = edit_source(apps_results.test_index, apps_results.model, apps_results.generator, tmp_path / "edit", settings)
    picture = cv2.cvtColor(cv2.imread(str(tmp_path / "edit/grid.png")), cv2.COLOR_BGR2RGB)
    assert picture.shape == ((2 + 3) * TILE, (1 + 5) * TILE, 3)
    assert cv2.imread(str(tmp_path / "edit/nmfc.png")).shape == picture.shape
    assert len(read_tsv(tmp_path / "edit/edits.tsv")) == len(rows) == 25 and rows[0]["audio"] == SILENT
    with pytest.raises(AppsConfigError, match="'nope' is not a clip"):
        edit_source(apps_results.test_index, apps_results.model, apps_results.generator, tmp_path / "x", AppsSettings.from_dict({"edit": {"source": "nope"}}))
