"""HeadGAN pipeline: video collection → training stores → trained model → metrics.

Targets: `preprocess` (default), `train`, `apps`, `evaluate`, `all`. See README.md.
"""


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/landmarks.smk"
include: "workflow/rules/morphable.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/audio.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/waves.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/apps.smk"
include: "workflow/rules/evaluate.smk"


rule preprocess:
    """Every preprocessing output of every shard."""
    default_target: True
    input:
        preprocess_outputs,


rule train:
    """Train HeadGAN on the training split."""
    input:
        rules.train_model.output,


rule apps:
    """The paper's applications with the trained generator: reconstruction, reenactment,
    frontalisation, editing, compression (`results/apps/{run}/`)."""
    input:
        apps_outputs,


rule evaluate:
    """Tables 1-3 of the paper for the trained run, with their protocol (`results/eval/{run}/`)."""
    input:
        evaluate_outputs,


rule all:
    """Preprocess, train and evaluate."""
    input:
        preprocess_outputs,
        rules.train_model.output,
        evaluate_outputs,
