# Rules of package headgan_model.train (tests: tests/train/)
rule train_model:
    """Train HeadGAN on the training split (`results/train/{run}/`); continues from the run's newest checkpoint."""
    input:
        index=RESULTS / "dataset/train.json",
        vgg=vgg_weights_input,
    output:
        generator=TRAIN_RUN / "generator.pt",
        samples=report(
            TRAIN_RUN / "samples.png",
            caption="../report/train_samples.rst",
            category="Training",
            labels={"run": config["train"]["run"], "figure": "samples"},
        ),
        curves=report(
            TRAIN_RUN / "loss_curves.png",
            caption="../report/train_losses.rst",
            category="Training",
            labels={"run": config["train"]["run"], "figure": "losses"},
        ),
    log:
        RESULTS / f"logs/train/{config['train']['run']}.log",
    conda:
        "../../envs/train.yaml"
    threads: config["train"]["nproc"] * (config["train"]["workers"] + 1)
    resources:
        gpu=config["train"]["nproc"],
        mem_mb=16000 * config["train"]["nproc"],
    params:
        launcher=train_launcher(),
        out=TRAIN_RUN,
        models_dir=MODELS_DIR,
        settings=json.dumps(config["train"], sort_keys=True),
    shell:
        "{params.launcher} --index {input.index} --out {params.out} --models-dir {params.models_dir}"
        " --settings {params.settings:q} --no-progress > {log} 2>&1"
