"""The import rules of docs/architecture.md hold, and the checker finds each kind of broken rule."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("import_graph", REPO / "scripts" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_the_code_follows_the_import_rules():
    assert import_graph.violations() == []


def test_the_picture_in_the_architecture_doc_is_current():
    doc = import_graph.DOC.read_text()
    picture = import_graph.mermaid(import_graph.package_graph(import_graph.module_graph()))
    assert import_graph.document_with_graph(doc, picture) == doc, "run: python scripts/import_graph.py --write"


def write_tree(root: Path, modules: dict[str, str]) -> Path:
    """A source tree with ``modules`` (dotted name → source) and the ``__init__.py`` of each package."""
    for name, source in modules.items():
        parts = name.split(".")
        for depth in range(1, len(parts)):
            init = root.joinpath(*parts[:depth], "__init__.py")
            init.parent.mkdir(parents=True, exist_ok=True)
            init.touch()
        root.joinpath(*parts[:-1], parts[-1] + ".py").write_text(source)
    return root


CLEAN = {
    "headgan_prep.cli": "from headgan_prep.render.shard import x\n",
    "headgan_prep.store.atomic": "",
    "headgan_prep.morphable.model": "from headgan_prep.store import atomic\n",
    "headgan_prep.fit.shard": "from headgan_prep.morphable.model import m\nfrom headgan_prep.store.atomic import a\n",
    "headgan_prep.render.shard": "from headgan_prep.fit.shard import f\n",
    "headgan_model.cli": "",
    "headgan_model.train.trainer": "from headgan_prep.render.shard import x\n",
}


def test_a_tree_that_follows_the_rules_passes(tmp_path):
    assert import_graph.violations(write_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(
    "module, source, expected",
    [
        # a stage imports a later stage
        ("headgan_prep.fit.algorithm", "from headgan_prep.render.shard import x\n", "headgan_prep.fit may not import headgan_prep.render"),
        # inside a function, under TYPE_CHECKING, relative: still counted
        ("headgan_prep.fit.algorithm", "def f():\n    from ..render import shard\n", "headgan_prep.fit may not import headgan_prep.render"),
        # the shared store machinery imports a stage
        ("headgan_prep.store.layout", "from headgan_prep.fit import shard\n", "headgan_prep.store may not import headgan_prep.fit"),
        # preprocessing imports the model library, or snakemake
        ("headgan_prep.fit.algorithm", "import headgan_model.train.trainer\n", "headgan_prep.fit.algorithm imports headgan_model"),
        ("headgan_prep.render.job", "from snakemake.io import glob_wildcards\n", "headgan_prep.render.job imports snakemake"),
        # the library calls its command line
        ("headgan_prep.fit.algorithm", "from headgan_prep import cli\n", "headgan_prep.fit may not import headgan_prep.cli"),
        # a package outside the layers
        ("headgan_prep.extras.thing", "", "headgan_prep.extras is in no layer"),
    ],
)
def test_each_broken_rule_is_found(tmp_path, module, source, expected):
    root = write_tree(tmp_path, {**CLEAN, module: source})
    problems = import_graph.violations(root)
    assert any(expected in line for line in problems), problems


def test_module_cycles_inside_a_package_are_found(tmp_path):
    root = write_tree(
        tmp_path,
        {
            **CLEAN,
            "headgan_prep.audio.deepspeech": "if TYPE_CHECKING:\n    from headgan_prep.audio.package import P\n",
            "headgan_prep.audio.package": "from headgan_prep.audio.deepspeech import Token\n",
        },
    )
    assert "module cycle: headgan_prep.audio.deepspeech ↔ headgan_prep.audio.package" in import_graph.violations(root)
