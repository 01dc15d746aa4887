# Rules of package headgan_prep.dataset (tests: tests/dataset/)
PREPROCESS_PER_SPLIT += [
    RESULTS / "dataset/{split}.json",
    RESULTS / "rejected/dataset/{split}.tsv",
]


rule dataset:
    """Index of one split's clips that every stage has (`results/dataset/{split}.json`)."""
    input:
        unpack(split_stage_outputs),
    output:
        index=RESULTS / "dataset/{split}.json",
        rejected=RESULTS / "rejected/dataset/{split}.tsv",
    log:
        RESULTS / "logs/dataset/{split}.log",
    conda:
        "../../envs/ingest.yaml"
    params:
        results=RESULTS,
    shell:
        "headgan-prep -q dataset-index --split {wildcards.split} --results {params.results}"
        " --out {output.index} --rejected {output.rejected} > {log} 2>&1"


PREPROCESS_PER_SPLIT += [RESULTS / "preview/dataset/{split}.png"]


rule preview_dataset:
    """PNG grid of random training samples of one split (reference, NMFC, landmarks, audio)."""
    input:
        RESULTS / "dataset/{split}.json",
    output:
        report(
            RESULTS / "preview/dataset/{split}.png",
            caption="../report/dataset.rst",
            category="Training samples",
            labels={"split": "{split}"},
        ),
    log:
        RESULTS / "logs/preview_dataset/{split}.log",
    conda:
        "../../envs/ingest.yaml"
    shell:
        "headgan-prep -q preview-dataset --index {input} --out {output} > {log} 2>&1"
