# Rules of package headgan_prep.ingest (tests: tests/ingest/)
wildcard_constraints:
    shard=r"[A-Za-z0-9_.]+-\d{4}",
    split=r"[A-Za-z0-9_.]+",


PREPROCESS_PER_SHARD += [
    RESULTS / "crops/{shard}.zarr",
    RESULTS / "rejected/ingest/{shard}.tsv",
]
PREPROCESS_PER_SPLIT += [RESULTS / "preview/crops/{split}.png"]


rule ingest:
    """Decode, detect, track and crop the clips of one shard (`results/crops/{shard}.zarr`)."""
    input:
        # ancient: a re-run manifest re-runs only the shards whose listing parameter changed
        manifest=ancient(RESULTS / "manifest.tsv"),
        model=model_input(detector_model()),
    output:
        store=directory(RESULTS / "crops/{shard}.zarr"),
        rejected=RESULTS / "rejected/ingest/{shard}.tsv",
    log:
        RESULTS / "logs/ingest/{shard}.log",
    benchmark:
        RESULTS / "benchmarks/ingest/{shard}.tsv"
    priority: 50
    conda:
        "../../envs/ingest.yaml"
    threads: 1
    params:
        root=dataset_root(),
        models_dir=MODELS_DIR,
        listing=shard_listing,
        settings=json.dumps(config["ingest"], sort_keys=True),
    shell:
        "headgan-prep ingest --manifest {input.manifest} --shard {wildcards.shard}"
        " --root {params.root} --models-dir {params.models_dir} --threads {threads}"
        " --settings {params.settings:q} --out {output.store} --rejected {output.rejected}"
        " > {log} 2>&1"


rule preview_crops:
    """PNG grid of crops of one split, for people and the report."""
    input:
        split_stage_stores("crops"),
    output:
        report(
            RESULTS / "preview/crops/{split}.png",
            caption="../report/crops.rst",
            category="Ingest",
            labels={"split": "{split}"},
        ),
    log:
        RESULTS / "logs/preview_crops/{split}.log",
    conda:
        "../../envs/ingest.yaml"
    shell:
        "headgan-prep -q preview-crops --out {output} {input} > {log} 2>&1"
