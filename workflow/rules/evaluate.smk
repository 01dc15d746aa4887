# Rules of package headgan_model.evaluate (tests: tests/evaluate/)
EVAL_RUN = RESULTS / "eval" / config["train"]["run"]
EVALUATE = config.get("evaluate", {})
EVALUATE_SETTINGS = json.dumps(EVALUATE, sort_keys=True)
EVALUATE_CLI = "python -m headgan_model.evaluate.cli"
EVAL_TASKS = ("reconstruct", "reenact", "frontalise")


def metric_model_inputs(wildcards):
    """Model files of the metrics the ``models`` rule can fetch (LPIPS, I3D, MobileFaceNet, SCRFD),
    or that are present; a missing file nobody can fetch is no input: its metric is reported missing.
    """
    from headgan_model.evaluate.settings import EvaluateSettings
    from headgan_model.metrics.i3d import I3D_CHECKPOINT
    from headgan_model.metrics.lpips import BACKBONES
    from headgan_prep.ingest.detect import detector_model_path

    settings = EvaluateSettings.from_dict(EVALUATE)
    backbone = BACKBONES[settings.lpips.net]
    wanted = [
        backbone.backbone_file,
        backbone.linear_file,
        I3D_CHECKPOINT,
        settings.csim.model,
        detector_model_path("insightface", settings.csim.detector),
    ]
    fetchable = set(fetchable_models())
    return [
        MODELS_DIR / relative
        for relative in wanted
        if relative in fetchable or (MODELS_DIR / relative).is_file()
    ]


def head_pose_models(wildcards):
    """Landmark and detector files of ARD and ARE (those of the landmarks stage)."""
    return [model_input(relative) for relative in landmark_models()]


rule evaluate_reconstruct:
    """Table 1 left: L1, PSNR, SSIM, LPIPS, FID, FVD, CSIM of the reconstructed test clips."""
    input:
        index=RESULTS / "dataset/test.json",
        videos=lambda wildcards: expand(
            APPS_RUN / "reconstruct/{shard}", shard=test_shards()
        ),
        stores=lambda wildcards: all_split_stores("test"),
        models=metric_model_inputs,
    output:
        scores=EVAL_RUN / "scores/reconstruct.json",
        csv=EVAL_RUN / "reconstruct.csv",
    log:
        RESULTS / "logs/eval/reconstruct.log",
    conda:
        "../../envs/train.yaml"
    threads: 2
    params:
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
    shell:
        "{EVALUATE_CLI} reconstruct --index {input.index} --videos {input.videos} --models-dir {params.models_dir}"
        " --scores {output.scores} --csv {output.csv} --settings {params.settings:q} --threads {threads} > {log} 2>&1"


rule evaluate_reenact:
    """Table 1 right: FID, CSIM, ARD, AU-H of the reenacted pairs."""
    input:
        index=RESULTS / "dataset/test.json",
        source_index=RESULTS / f"dataset/{REENACT_SPLIT}.json",
        videos=APPS_RUN / "reenact/videos",
        model=morphable_model_file(),
        stores=lambda wildcards: all_split_stores("test")
        + all_split_stores(REENACT_SPLIT),
        models=metric_model_inputs,
        head_pose=head_pose_models,
    output:
        scores=EVAL_RUN / "scores/reenact.json",
        csv=EVAL_RUN / "reenact.csv",
    log:
        RESULTS / "logs/eval/reenact.log",
    conda:
        "../../envs/train.yaml"
    threads: 2
    params:
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
        landmarks=json.dumps(config["landmarks"], sort_keys=True),
        fit=json.dumps(config["fit"], sort_keys=True),
    shell:
        "{EVALUATE_CLI} reenact --index {input.index} --source-index {input.source_index} --videos {input.videos}"
        " --model {input.model} --models-dir {params.models_dir} --scores {output.scores} --csv {output.csv}"
        " --settings {params.settings:q} --landmarks-settings {params.landmarks:q} --fit-settings {params.fit:q}"
        " --threads {threads} > {log} 2>&1"


rule evaluate_frontalise:
    """Table 2: FID, CSIM, ARE of one seeded random frontalised frame per test clip."""
    input:
        index=RESULTS / "dataset/test.json",
        videos=lambda wildcards: expand(
            APPS_RUN / "frontalise/{shard}", shard=test_shards()
        ),
        model=morphable_model_file(),
        stores=lambda wildcards: all_split_stores("test"),
        models=metric_model_inputs,
        head_pose=head_pose_models,
    output:
        scores=EVAL_RUN / "scores/frontalise.json",
        csv=EVAL_RUN / "frontalise.csv",
    log:
        RESULTS / "logs/eval/frontalise.log",
    conda:
        "../../envs/train.yaml"
    threads: 2
    params:
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
        landmarks=json.dumps(config["landmarks"], sort_keys=True),
        fit=json.dumps(config["fit"], sort_keys=True),
    shell:
        "{EVALUATE_CLI} frontalise --index {input.index} --videos {input.videos} --model {input.model}"
        " --models-dir {params.models_dir} --scores {output.scores} --csv {output.csv} --settings {params.settings:q}"
        " --landmarks-settings {params.landmarks:q} --fit-settings {params.fit:q} --threads {threads} > {log} 2>&1"


def other_run_metrics(wildcards):
    """metrics.json of the runs of ``evaluate.runs`` that have one (Table 3 says which have none)."""
    paths = [
        RESULTS / "eval" / run / "metrics.json"
        for run in EVALUATE.get("runs", [])
        if run != config["train"]["run"]
    ]
    return [path for path in paths if path.is_file()]


rule evaluate_report:
    """metrics.json, Tables 1-3 and protocol.json of the run."""
    input:
        scores=[EVAL_RUN / f"scores/{task}.json" for task in EVAL_TASKS],
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        model=morphable_model_file(),
        others=other_run_metrics,
    output:
        metrics=EVAL_RUN / "metrics.json",
        table1=report(
            EVAL_RUN / "table1.md",
            caption="../report/eval_table1.rst",
            category="Evaluation",
            labels={"table": "1: reconstruction and reenactment"},
        ),
        table2=report(
            EVAL_RUN / "table2.md",
            caption="../report/eval_table2.rst",
            category="Evaluation",
            labels={"table": "2: frontalisation"},
        ),
        table3=report(
            EVAL_RUN / "table3.md",
            caption="../report/eval_table3.rst",
            category="Evaluation",
            labels={"table": "3: runs side by side"},
        ),
        protocol=EVAL_RUN / "protocol.json",
    log:
        RESULTS / "logs/eval/report.log",
    conda:
        "../../envs/train.yaml"
    params:
        run=config["train"]["run"],
        out=EVAL_RUN,
        scores=" ".join(
            f"{task}={EVAL_RUN / f'scores/{task}.json'}" for task in EVAL_TASKS
        ),
        settings=EVALUATE_SETTINGS,
        apps=APPS_SETTINGS,
    shell:
        "{EVALUATE_CLI} report --run {params.run} --out {params.out} --scores {params.scores} --index {input.index}"
        " --generator {input.generator} --model {input.model} --settings {params.settings:q}"
        " --apps-settings {params.apps:q} > {log} 2>&1"


def evaluate_outputs(wildcards):
    """Every file of ``results/eval/{run}/``."""
    return [
        EVAL_RUN / name
        for name in (
            "metrics.json",
            "table1.md",
            "table2.md",
            "table3.md",
            "protocol.json",
        )
    ] + [EVAL_RUN / f"{task}.csv" for task in EVAL_TASKS]
