# Rules of package headgan_prep.render (tests: tests/render/)
PREPROCESS_PER_SHARD += [RESULTS / "nmfc/{shard}.zarr"]
PREPROCESS_PER_SPLIT += [
    RESULTS / "preview/nmfc/{split}.png",
    RESULTS / "preview/expression/{split}.png",
]


rule render:
    """NMFC images of one shard's fits (`results/nmfc/{shard}.zarr`)."""
    input:
        fit=RESULTS / "fit/{shard}.zarr",
        wave=stage_wave("fit"),
        model=morphable_model_file(),
    output:
        store=directory(RESULTS / "nmfc/{shard}.zarr"),
    log:
        RESULTS / "logs/render/{shard}.log",
    benchmark:
        RESULTS / "benchmarks/render/{shard}.tsv"
    priority: 10
    conda:
        "../../envs/render.yaml"
    params:
        settings=json.dumps(config["render"], sort_keys=True),
        size=config["ingest"]["crop_size"],
    shell:
        "headgan-prep -q render --fit {input.fit} --model {input.model} --size {params.size}"
        " --settings {params.settings:q} --out {output.store} > {log} 2>&1"


rule preview_nmfc:
    """PNG strips of crop | NMFC | overlay of one split, for people and the report."""
    input:
        crops=split_stage_stores("crops"),
        nmfc=split_stage_stores("nmfc"),
    output:
        report(
            RESULTS / "preview/nmfc/{split}.png",
            caption="../report/nmfc.rst",
            category="NMFC",
            labels={"split": "{split}"},
        ),
    log:
        RESULTS / "logs/preview_nmfc/{split}.log",
    conda:
        "../../envs/render.yaml"
    shell:
        "headgan-prep -q preview-nmfc --out {output} --crops {input.crops} --nmfc {input.nmfc} > {log} 2>&1"


rule preview_expression:
    """PNG of one split's frames with the largest expression error (crop with landmarks | NMFC)."""
    input:
        crops=split_stage_stores("crops"),
        landmarks=split_stage_stores("landmarks"),
        fit=split_stage_stores("fit"),
        nmfc=split_stage_stores("nmfc"),
    output:
        report(
            RESULTS / "preview/expression/{split}.png",
            caption="../report/expression.rst",
            category="Expression",
            labels={"split": "{split}"},
        ),
    log:
        RESULTS / "logs/preview_expression/{split}.log",
    conda:
        "../../envs/render.yaml"
    shell:
        "headgan-prep -q preview-expression --out {output} --crops {input.crops}"
        " --landmarks {input.landmarks} --fit {input.fit} --nmfc {input.nmfc} > {log} 2>&1"
