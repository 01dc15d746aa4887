# Rules of package headgan_prep.fit (tests: tests/fit/)
PREPROCESS_PER_SHARD += [
    RESULTS / "fit/{shard}.zarr",
    RESULTS / "rejected/fit/{shard}.tsv",
]


rule fit:
    """3DMM fit of one shard's landmarks: identity, expression, camera per frame (`results/fit/{shard}.zarr`)."""
    input:
        landmarks=RESULTS / "landmarks/{shard}.zarr",
        wave=stage_wave("landmarks"),
        model=morphable_model_file(),
    output:
        store=directory(RESULTS / "fit/{shard}.zarr"),
        rejected=RESULTS / "rejected/fit/{shard}.tsv",
    log:
        RESULTS / "logs/fit/{shard}.log",
    benchmark:
        RESULTS / "benchmarks/fit/{shard}.tsv"
    priority: 20
    conda:
        "../../envs/fit.yaml"
    params:
        settings=json.dumps(config["fit"], sort_keys=True),
    shell:
        "headgan-prep -q fit --landmarks {input.landmarks} --model {input.model}"
        " --settings {params.settings:q} --out {output.store} --rejected {output.rejected}"
        " > {log} 2>&1"
