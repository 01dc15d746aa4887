# Rules of package headgan_model.apps (tests: tests/apps/)
rule reconstruct:
    """Self-reenactment of every test clip of a shard from its middle frame (mp4 + side by side)."""
    input:
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        stores=test_shard_stores,
    output:
        videos=directory(APPS_RUN / "reconstruct/{shard}"),
        preview=report(
            APPS_RUN / "reconstruct/{shard}.png",
            caption="../report/apps_reconstruct.rst",
            category="Applications",
            labels={"task": "reconstruct", "shard": "{shard}"},
        ),
    log:
        RESULTS / "logs/apps/reconstruct/{shard}.log",
    wildcard_constraints:
        shard="test-[0-9]+",
    conda:
        "../../envs/train.yaml"
    resources:
        gpu=1,
    params:
        settings=APPS_SETTINGS,
    shell:
        "python -m headgan_model.apps.cli reconstruct --index {input.index} --shard {wildcards.shard} --generator {input.generator}"
        " --out {output.videos} --preview {output.preview} --settings {params.settings:q} > {log} 2>&1"


rule reenact:
    """Cross-identity reenactment of (driving, source) pairs: configured, or random and seeded."""
    input:
        index=RESULTS / "dataset/test.json",
        source_index=RESULTS / f"dataset/{REENACT_SPLIT}.json",
        generator=TRAIN_RUN / "generator.pt",
        model=morphable_model_file(),
        stores=lambda wildcards: all_split_stores("test")
        + all_split_stores(REENACT_SPLIT),
    output:
        videos=directory(APPS_RUN / "reenact/videos"),
        preview=report(
            APPS_RUN / "reenact/preview.png",
            caption="../report/apps_reenact.rst",
            category="Applications",
            labels={"task": "reenact", "figure": "frames"},
        ),
    log:
        RESULTS / "logs/apps/reenact.log",
    conda:
        "../../envs/train.yaml"
    resources:
        gpu=1,
    params:
        settings=APPS_SETTINGS,
        render=json.dumps(config["render"], sort_keys=True),
    shell:
        "python -m headgan_model.apps.cli reenact --index {input.index} --source-index {input.source_index} --model {input.model}"
        " --generator {input.generator} --out {output.videos} --preview {output.preview}"
        " --settings {params.settings:q} --render-settings {params.render:q} > {log} 2>&1"


rule frontalise:
    """Frontal views of every test clip of a shard (own or neutral expression)."""
    input:
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        audio_free=audio_free_generator(),
        model=morphable_model_file(),
        stores=test_shard_stores,
    output:
        videos=directory(APPS_RUN / "frontalise/{shard}"),
        preview=report(
            APPS_RUN / "frontalise/{shard}.png",
            caption="../report/apps_frontalise.rst",
            category="Applications",
            labels={"task": "frontalise", "shard": "{shard}"},
        ),
    log:
        RESULTS / "logs/apps/frontalise/{shard}.log",
    wildcard_constraints:
        shard="test-[0-9]+",
    conda:
        "../../envs/train.yaml"
    resources:
        gpu=1,
    params:
        settings=APPS_SETTINGS,
        render=json.dumps(config["render"], sort_keys=True),
    shell:
        "python -m headgan_model.apps.cli frontalise --index {input.index} --shard {wildcards.shard} --model {input.model}"
        " --generator {input.generator} --out {output.videos} --preview {output.preview}"
        " --settings {params.settings:q} --render-settings {params.render:q} > {log} 2>&1"


rule edit:
    """Expression and pose editing of one test frame: a grid like the paper's Fig. 7."""
    input:
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        audio_free=audio_free_generator(),
        model=morphable_model_file(),
        stores=lambda wildcards: all_split_stores("test"),
    output:
        grid=report(
            APPS_RUN / "edit/grid.png",
            caption="../report/apps_edit.rst",
            category="Applications",
            labels={"task": "edit", "figure": "grid"},
        ),
        nmfc=APPS_RUN / "edit/nmfc.png",
        table=APPS_RUN / "edit/edits.tsv",
    log:
        RESULTS / "logs/apps/edit.log",
    conda:
        "../../envs/train.yaml"
    resources:
        gpu=1,
    params:
        out=APPS_RUN / "edit",
        settings=APPS_SETTINGS,
        render=json.dumps(config["render"], sort_keys=True),
    shell:
        "python -m headgan_model.apps.cli edit --index {input.index} --model {input.model} --generator {input.generator}"
        " --out {params.out} --settings {params.settings:q} --render-settings {params.render:q} > {log} 2>&1"


rule compress:
    """Compression of test clips to a reference image + 35 floats per frame, against H.264/H.265."""
    input:
        index=RESULTS / "dataset/test.json",
        generator=TRAIN_RUN / "generator.pt",
        audio_free=audio_free_generator(),
        model=morphable_model_file(),
        stores=lambda wildcards: all_split_stores("test"),
    output:
        streams=directory(APPS_RUN / "compress/streams"),
        plot=report(
            APPS_RUN / "compress/rate_quality.png",
            caption="../report/apps_compress.rst",
            category="Applications",
            labels={"task": "compress", "figure": "rate-quality"},
        ),
    log:
        RESULTS / "logs/apps/compress.log",
    conda:
        "../../envs/train.yaml"
    resources:
        gpu=1,
    params:
        settings=APPS_SETTINGS,
        render=json.dumps(config["render"], sort_keys=True),
        models_dir=MODELS_DIR,
    shell:
        "python -m headgan_model.apps.cli compress --index {input.index} --model {input.model} --generator {input.generator}"
        " --out {output.streams} --preview {output.plot} --settings {params.settings:q}"
        " --render-settings {params.render:q} --models-dir {params.models_dir} > {log} 2>&1"
