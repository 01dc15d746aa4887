# Rules of package headgan_prep.landmarks (tests: tests/landmarks/)
PREPROCESS_PER_SHARD += [
    RESULTS / "landmarks/{shard}.zarr",
    RESULTS / "rejected/landmarks/{shard}.tsv",
]
PREPROCESS_PER_SPLIT += [RESULTS / "preview/landmarks/{split}.png"]


rule landmarks:
    """Dense 3D face points per frame of one shard's crops (`results/landmarks/{shard}.zarr`)."""
    input:
        crops=RESULTS / "crops/{shard}.zarr",
        wave=stage_wave("crops"),
        models=[model_input(relative) for relative in landmark_models()],
    output:
        store=directory(RESULTS / "landmarks/{shard}.zarr"),
        rejected=RESULTS / "rejected/landmarks/{shard}.tsv",
    log:
        RESULTS / "logs/landmarks/{shard}.log",
    benchmark:
        RESULTS / "benchmarks/landmarks/{shard}.tsv"
    priority: 40
    conda:
        "../../envs/landmarks.yaml"
    threads: config["landmarks"]["threads"]
    params:
        models_dir=MODELS_DIR,
        settings=json.dumps(config["landmarks"], sort_keys=True),
    shell:
        "headgan-prep -q landmarks --crops {input.crops} --models-dir {params.models_dir} --threads {threads}"
        " --settings {params.settings:q} --out {output.store} --rejected {output.rejected}"
        " > {log} 2>&1"


rule preview_landmarks:
    """PNG grid of crops of one split with their landmarks drawn, for people and the report."""
    input:
        crops=split_stage_stores("crops"),
        landmarks=split_stage_stores("landmarks"),
    output:
        report(
            RESULTS / "preview/landmarks/{split}.png",
            caption="../report/landmarks.rst",
            category="Landmarks",
            labels={"split": "{split}"},
        ),
    log:
        RESULTS / "logs/preview_landmarks/{split}.log",
    conda:
        "../../envs/landmarks.yaml"
    shell:
        "headgan-prep -q preview-landmarks --out {output} --crops {input.crops}"
        " --landmarks {input.landmarks} > {log} 2>&1"
