"""HeadGAN pipeline: video collection → training stores → trained model → metrics.

Targets: `preprocess` (default), `train`, `evaluate`, `all`. See README.md.
"""


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/targets.smk"
