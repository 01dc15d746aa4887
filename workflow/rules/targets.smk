def ingest_outputs(wildcards):
    """Crop stores and rejection logs of every shard, and the crop previews of every split."""
    shards = sorted(manifest_shards())
    splits = sorted({shard.rsplit("-", 1)[0] for shard in shards})
    return expand(
        [RESULTS / "crops/{shard}.zarr", RESULTS / "rejected/ingest/{shard}.tsv"],
        shard=shards,
    ) + expand(RESULTS / "preview/crops/{split}.png", split=splits)


def stage_not_built(target):
    """Input function of the targets whose stages this release of the pipeline does not have yet."""

    def _raise(wildcards):
        raise WorkflowError(
            f"target '{target}' needs the training stores (landmarks, 3DMM fit, NMFC, audio "
            "features and the dataset index), which this release of the pipeline does not build "
            "yet; `snakemake preprocess` runs the stages that exist."
        )

    return _raise


rule preprocess:
    """Every preprocessing output of every shard."""
    default_target: True
    input:
        ingest_outputs,


rule train:
    """Train HeadGAN on the training split."""
    input:
        stage_not_built("train"),


rule evaluate:
    """Evaluate a trained HeadGAN on the test split."""
    input:
        stage_not_built("evaluate"),


rule all:
    """Preprocess, train and evaluate."""
    input:
        ingest_outputs,
        stage_not_built("train"),
