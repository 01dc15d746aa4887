"""The SLURM profiles' settings against the workflow's rules and the installed plugin (no cluster needed)."""

import configparser
import re
from importlib.metadata import version
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILES = REPO_ROOT / "workflow/profiles"


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.v8+.yaml").read_text())


def job_rules() -> set[str]:
    """Rules that make jobs: a shell, run or script section, and not a local rule."""
    files = [REPO_ROOT / "Snakefile", *sorted((REPO_ROOT / "workflow/rules").glob("*.smk"))]
    text = "\n".join(path.read_text() for path in files)
    parts = re.split(r"^(?:rule|checkpoint) (\w+):", text, flags=re.M)
    rules = {name for name, body in zip(parts[1::2], parts[2::2]) if re.search(r"^    (shell|run|script):", body, re.M)}
    local = set(re.findall(r"^localrules:\s*\n((?:    \w+,?\n)+)", text, re.M))
    return rules - {name.strip(" ,") for block in local for name in block.split()}


def test_every_rule_that_makes_jobs_has_its_memory_and_time_and_no_other_rule_has_settings():
    for name in ("slurm", "slurm-cpu"):
        settings = profile(name)["set-resources"]
        assert set(settings) == job_rules(), name
        for rule, resources in settings.items():
            assert "runtime" in resources, (name, rule)
            assert "mem_mb" in resources or rule == "train_model", (name, rule)


def test_threads_become_cpus_and_gpus_follow_train_nproc():
    for name in ("slurm", "slurm-cpu"):
        settings = profile(name)
        assert "set-threads" not in settings
        for resources in [settings["default-resources"], *settings["set-resources"].values()]:
            assert "cpus_per_task" not in resources
    assert "gpu" not in profile("slurm")["set-resources"]["train_model"]  # the rule's gpu = train.nproc
    assert profile("slurm-cpu")["set-resources"]["train_model"] == {"slurm_partition": "cpu", "gpu": 0, "runtime": 4320}


GPU_RULES = {
    "train_model", "reconstruct", "reenact", "frontalise", "edit", "compress",
    "evaluate_reconstruct", "evaluate_reenact", "evaluate_frontalise",
}


def test_the_cpu_profile_is_the_slurm_profile_but_for_the_gpu_rules():
    gpu, cpu = profile("slurm"), profile("slurm-cpu")
    for rule in GPU_RULES:
        assert gpu["set-resources"][rule]["slurm_partition"] == "gpu" and "gpu" not in gpu["set-resources"][rule]
        assert cpu["set-resources"][rule]["slurm_partition"] == "cpu" and cpu["set-resources"][rule]["gpu"] == 0
        assert {k: v for k, v in gpu["set-resources"].pop(rule).items() if k != "slurm_partition"} == {
            k: v for k, v in cpu["set-resources"].pop(rule).items() if k not in ("slurm_partition", "gpu")
        }
    assert gpu == cpu


def test_job_states_come_from_squeue_and_every_ready_job_is_submitted():
    for name in ("slurm", "slurm-cpu"):
        settings = profile(name)
        assert settings["slurm-status-command"] == "squeue"
        assert settings["jobs"] == "unlimited"
        assert set(settings["slurm-array-jobs"].split(",")) == {"ingest", "landmarks", "fit", "render", "audio"}


def test_the_installed_plugins_are_the_pinned_ones():
    setup = configparser.ConfigParser()
    setup.read(REPO_ROOT / "setup.cfg")
    pins = dict(line.split("==") for line in setup["options.extras_require"]["slurm"].splitlines() if "==" in line)
    assert set(pins) == {"snakemake-executor-plugin-slurm", "snakemake-executor-plugin-slurm-jobstep"}
    for package, pinned in pins.items():
        assert version(package) == pinned, package
