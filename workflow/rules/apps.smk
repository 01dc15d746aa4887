# Rules of package headgan_model.apps (tests: tests/apps/)
APPS_RUN = RESULTS / "apps" / config["train"]["run"]
APPS_SETTINGS = json.dumps(config.get("apps", {}), sort_keys=True)
APPS_CLI = "python -m headgan_model.apps.cli"


def test_shards():
    """The test split's shards (after the manifest checkpoint)."""
    return sorted(s for s in manifest_shards() if s.rsplit("-", 1)[0] == "test")


def test_shard_stores(wildcards):
    """Crop, NMFC, audio and fit stores of one test shard."""
    return [RESULTS / f"{stage}/{wildcards.shard}.zarr" for stage in ("crops", "nmfc", "audio", "fit")]


def apps_outputs(wildcards):
    """Every application's outputs: reconstruction per test shard, the other tasks once."""
    return expand(APPS_RUN / "reconstruct/{shard}", shard=test_shards())


rule reconstruct:
    """Self-reenactment of every test clip of a shard from its middle frame (mp4 + side by side)."""
    input:
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        stores=test_shard_stores,
    output:
        videos=directory(APPS_RUN / "reconstruct/{shard}"),
        preview=report(
            APPS_RUN / "reconstruct/{shard}.png",
            caption="../report/apps_reconstruct.rst",
            category="Applications",
            labels={"task": "reconstruct", "shard": "{shard}"},
        ),
    wildcard_constraints:
        shard="test-[0-9]+",
    log:
        RESULTS / "logs/apps/reconstruct/{shard}.log",
    conda:
        "../../envs/train.yaml"
    params:
        settings=APPS_SETTINGS,
    shell:
        "{APPS_CLI} reconstruct --index {input.index} --shard {wildcards.shard} --generator {input.generator}"
        " --out {output.videos} --preview {output.preview} --settings {params.settings:q} > {log} 2>&1"
