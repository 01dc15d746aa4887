# Rules of package headgan_prep.audio (tests: tests/audio/)
PREPROCESS_PER_SHARD += [
    RESULTS / "audio/{shard}.zarr",
    RESULTS / "rejected/audio/{shard}.tsv",
]


rule audio:
    """84 low-level + 216 DeepSpeech audio features per frame of one shard (`results/audio/{shard}.zarr`)."""
    input:
        crops=RESULTS / "crops/{shard}.zarr",
        wave=stage_wave("crops"),
        model=deepspeech_model(),
        python=deepspeech_python(),
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
        deepspeech_python=deepspeech_python_arg(),
    shell:
        "headgan-prep -q audio --crops {input.crops} --models-dir {params.models_dir}"
        " --settings {params.settings:q} {params.deepspeech_python}"
        " --out {output.store} --rejected {output.rejected} > {log} 2>&1"


rule deepspeech_python:
    """Python 3.9 with Mozilla's deepspeech package (envs/deepspeech.yaml): a script running this env's
    interpreter, for the audio rule's worker with `audio.deepspeech.backend: deepspeech`.
    """
    output:
        RESULTS / "deepspeech/python",
    log:
        RESULTS / "logs/deepspeech_python.log",
    conda:
        "../../envs/deepspeech.yaml"
    shell:
        """printf '#!/bin/sh\\nexec %s "$@"\\n' "$(command -v python)" > {output} 2> {log}"""
        " && chmod +x {output}"
