# Scheduling rules, no package: stage waves for clusters (tests: tests/test_workflow.py, tests/test_slurm.py)
localrules:
    stage_wave,


rule stage_wave:
    """Marker that a per-shard stage is done for every shard (`scheduling.stage_waves`)."""
    input:
        stage_stores,
    output:
        touch(RESULTS / "waves/{stage}.done"),
    wildcard_constraints:
        stage="|".join(WAVE_STAGES),
