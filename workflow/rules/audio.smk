PREPROCESS_PER_SHARD += [
    RESULTS / "audio/{shard}.zarr",
    RESULTS / "rejected/audio/{shard}.tsv",
]


rule audio:
    """84 low-level + 216 DeepSpeech audio features per frame of one shard (`results/audio/{shard}.zarr`)."""
    input:
        crops=RESULTS / "crops/{shard}.zarr",
        model=deepspeech_model(),
    output:
        store=directory(RESULTS / "audio/{shard}.zarr"),
        rejected=RESULTS / "rejected/audio/{shard}.tsv",
    log:
        RESULTS / "logs/audio/{shard}.log",
    benchmark:
        RESULTS / "benchmarks/audio/{shard}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    params:
        models_dir=MODELS_DIR,
        settings=json.dumps(config["audio"], sort_keys=True),
    shell:
        "headgan-prep -q audio --crops {input.crops} --models-dir {params.models_dir}"
        " --settings {params.settings:q} --out {output.store} --rejected {output.rejected}"
        " > {log} 2>&1"
