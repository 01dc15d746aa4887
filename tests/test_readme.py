"""Every command in README.md's ```bash blocks runs, so that a command the tools reject cannot stay.

How each command is run:

- ``snakemake …`` as a dry run (``-n`` added), in a scratch folder linking the repository's
  Snakefile, config.yaml and workflow/, with a copy of configs/;
- ``headgan-prep …``, ``headgan-infer …``, ``python benchmarks/….py …`` and ``python scripts/….py …``
  (real runs read hand-downloaded files, a trained generator, finished results or the user's own
  videos, or take minutes): their argument parser must accept the arguments;
- ``bash scripts/setup.sh`` and ``. .venv/bin/activate`` are the set-up CI runs before the tests,
  and ``python -m pytest …`` is this test run: not run again;
- anything else fails the test, so that a new kind of command gets a rule here first.

Hand-downloaded files: the model files that ``headgan-prep fetch-models`` cannot fetch (VGG19,
DeepSpeech) are empty files in the scratch models folder (a dry run checks only that inputs exist),
and paths under ``/data/`` (the README's dataset locations) point at a generated folder of empty
clips in VoxCeleb layout, with a split CSV where a ``.csv`` is named. A ```yaml block whose first
line is ``# name.yaml`` is written to that file first.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
DATA = re.compile(r"/data/[\w./-]+")

PARSE_ONLY = """
import argparse, os, runpy, sys
parse = argparse.ArgumentParser.parse_args
def parse_only(self, args=None, namespace=None):
    parse(self, args, namespace)
    raise SystemExit(0)
argparse.ArgumentParser.parse_args = parse_only
if sys.argv[1] == "headgan-prep":
    from headgan_prep.cli import main
    main(sys.argv[2:])
elif sys.argv[1] == "headgan-infer":
    from headgan_model.apps.infer import main
    main(sys.argv[2:])
else:
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as `python script.py` does
    runpy.run_path(sys.argv[0], run_name="__main__")
"""
"""Runs a command line's argument parser (and nothing after it): exit 0 when it accepts the arguments."""


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def readme_commands() -> list[str]:
    """Each command of the README's bash blocks (comments dropped, `&&` chains split)."""
    commands = []
    for block in code_blocks((REPO_ROOT / "README.md").read_text(), "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            command = []
            for word in [*words, "&&"]:
                if word == "&&":
                    if command:
                        commands.append(shlex.join(command))
                    command = []
                else:
                    command.append(word)
    return commands


def make_dataset(scratch: Path, path: str) -> str:
    """The scratch stand-in of a /data/ path: empty clips in VoxCeleb layout, or a split CSV of them."""
    local = scratch / path.lstrip("/")
    clips = [f"id0000{i}/yt{i:09d}/0000{j}.mp4" for i in range(1, 4) for j in range(1, 3)]
    if local.suffix == ".csv":
        local.parent.mkdir(parents=True, exist_ok=True)
        rows = [f"{clip},{'test' if clip.startswith('id00003') else 'train'}" for clip in clips]
        local.write_text("\n".join(["filename,split", *rows]) + "\n")
    else:
        for clip in clips:
            (local / clip).parent.mkdir(parents=True, exist_ok=True)
            (local / clip).touch()
    return str(local)


def with_data(scratch: Path, text: str) -> str:
    return DATA.sub(lambda match: make_dataset(scratch, match.group(0)), text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder to run the README's commands in, as the repository root would be."""
    folder = tmp_path_factory.mktemp("readme")
    for name in ("Snakefile", "config.yaml", "workflow"):
        (folder / name).symlink_to(REPO_ROOT / name)
    (folder / "configs").mkdir()
    for config in sorted((REPO_ROOT / "configs").glob("*.yaml")):
        (folder / "configs" / config.name).write_text(with_data(folder, config.read_text()))
    for block in code_blocks((REPO_ROOT / "README.md").read_text(), "yaml"):
        name = re.match(r"# ([\w.-]+\.yaml)\n", block)
        if name:
            (folder / name.group(1)).write_text(with_data(folder, block))
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    schema = yaml.safe_load((REPO_ROOT / "workflow/schemas/config.schema.yaml").read_text())
    deepspeech = schema["properties"]["audio"]["properties"]["deepspeech"]["properties"]["model"]["default"]
    for relative in (config["train"]["vgg"]["weights"], deepspeech):
        placeholder = folder / config["models"]["dir"] / relative
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        placeholder.touch()
    return folder


def how_to_run(command: str) -> list[str] | None:
    """The argv that checks ``command`` (None: not run again, see the module docstring)."""
    words = shlex.split(command)
    if words[:2] == ["bash", "scripts/setup.sh"] or words == [".", ".venv/bin/activate"]:
        return None
    if words[:3] == ["python", "-m", "pytest"]:
        return None
    if words[0] == "snakemake":
        return [sys.executable, "-m", "snakemake", *words[1:], "-n"]
    if words[0] in ("headgan-prep", "headgan-infer") or (
        words[0] == "python" and words[1].startswith(("benchmarks/", "scripts/"))
    ):
        return [sys.executable, "-c", PARSE_ONLY, *(words[1:] if words[0] == "python" else words)]
    raise AssertionError(f"README command `{command}` has no rule in tests/test_readme.py")


def test_readme_has_commands_of_every_kind():
    kinds = {shlex.split(command)[0] for command in readme_commands()}
    assert {"snakemake", "python", "headgan-prep", "bash"} <= kinds
    assert not [command for command in readme_commands() if "--config train." in command]


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command, scratch):
    argv = how_to_run(command)
    if argv is None:
        pytest.skip("set-up or the test run itself (see the module docstring)")
    argv = [with_data(scratch, word) for word in argv]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    cwd = scratch if argv[:3] == [sys.executable, "-m", "snakemake"] else REPO_ROOT
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
