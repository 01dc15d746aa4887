# Rules of package headgan_prep.morphable (tests: tests/morphable/)
rule learn_3dmm:
    """A 3DMM learned from the training split's landmarks (`results/3dmm/learned.h5`)."""
    input:
        landmarks=train_landmark_stores,
        models=(
            [model_input(FACEMESH_TESSELLATION_FILE)]
            if config["landmarks"]["backend"] == "mediapipe"
            else []
        ),
    output:
        RESULTS / "3dmm/learned.h5",
    log:
        RESULTS / "logs/learn_3dmm.log",
    benchmark:
        RESULTS / "benchmarks/learn_3dmm.tsv"
    priority: 30
    conda:
        "../../envs/landmarks.yaml"
    params:
        models_dir=MODELS_DIR,
        settings=json.dumps(
            {
                key: value
                for key, value in config["morphable_model"].items()
                if key not in ("source", "file")
            },
            sort_keys=True,
        ),
    shell:
        "headgan-prep -q learn-3dmm --landmarks {input.landmarks} --models-dir {params.models_dir}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"
