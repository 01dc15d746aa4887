"""Shared fixtures of the training tests."""

import pytest

from headgan_prep.dataset.index import build_index, write_index
from tests.stores import write_results
from tests.training import SMALL_SIZE


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The training index of two small clips (12 and 9 frames of SMALL_SIZE²)."""
    results = tmp_path_factory.mktemp("train") / "results"
    write_results(results, {"train-0000": {"id1+a+1": 12, "id2+b+1": 9}}, size=SMALL_SIZE)
    path = results / "dataset/train.json"
    write_index(build_index(results, "train")[0], path)
    return path
