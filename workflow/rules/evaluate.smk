# Rules of package headgan_model.evaluate (tests: tests/evaluate/)
rule evaluate_reconstruct:
    """Table 1 left: L1, PSNR, SSIM, LPIPS, FID, FVD, CSIM, AKD, LSE-D, LSE-C of the reconstructed test clips."""
    input:
        index=RESULTS / "dataset/test.json",
        videos=lambda wildcards: expand(
            APPS_RUN / "reconstruct/{shard}", shard=test_shards()
        ),
        stores=lambda wildcards: all_split_stores("test"),
        models=metric_model_inputs,
        keypoints=head_pose_models,
    output:
        scores=EVAL_RUN / "scores/reconstruct.json",
        csv=EVAL_RUN / "reconstruct.csv",
    log:
        RESULTS / "logs/eval/reconstruct.log",
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        cli="python -m headgan_model.evaluate.cli",
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
        landmarks=json.dumps(config["landmarks"], sort_keys=True),
    shell:
        "{params.cli} reconstruct --index {input.index} --videos {input.videos} --models-dir {params.models_dir}"
        " --scores {output.scores} --csv {output.csv} --settings {params.settings:q}"
        " --landmarks-settings {params.landmarks:q} --threads {threads} > {log} 2>&1"


rule evaluate_reenact:
    """Table 1 right: FID, CSIM, ARD, AU-H, LSE-D, LSE-C of the reenacted pairs."""
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
    resources:
        gpu=1,
    params:
        cli="python -m headgan_model.evaluate.cli",
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
        landmarks=json.dumps(config["landmarks"], sort_keys=True),
        fit=json.dumps(config["fit"], sort_keys=True),
    shell:
        "{params.cli} reenact --index {input.index} --source-index {input.source_index} --videos {input.videos}"
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
    resources:
        gpu=1,
    params:
        cli="python -m headgan_model.evaluate.cli",
        settings=EVALUATE_SETTINGS,
        models_dir=MODELS_DIR,
        landmarks=json.dumps(config["landmarks"], sort_keys=True),
        fit=json.dumps(config["fit"], sort_keys=True),
    shell:
        "{params.cli} frontalise --index {input.index} --videos {input.videos} --model {input.model}"
        " --models-dir {params.models_dir} --scores {output.scores} --csv {output.csv} --settings {params.settings:q}"
        " --landmarks-settings {params.landmarks:q} --fit-settings {params.fit:q} --threads {threads} > {log} 2>&1"


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
        cli="python -m headgan_model.evaluate.cli",
        run=config["train"]["run"],
        out=EVAL_RUN,
        scores=" ".join(
            f"{task}={EVAL_RUN / f'scores/{task}.json'}" for task in EVAL_TASKS
        ),
        settings=EVALUATE_SETTINGS,
        apps=APPS_SETTINGS,
    shell:
        "{params.cli} report --run {params.run} --out {params.out} --scores {params.scores} --index {input.index}"
        " --generator {input.generator} --model {input.model} --settings {params.settings:q}"
        " --apps-settings {params.apps:q} > {log} 2>&1"
