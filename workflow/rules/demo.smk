# Rules of package headgan_prep.demo (tests: tests/demo/)
rule make_demo:
    """Generate the bundled demo dataset: real face photographs moved like heads, with speech."""
    output:
        videos=directory(Path(config["demo"]["out_dir"]) / "videos"),
        ground_truth=directory(Path(config["demo"]["out_dir"]) / "ground_truth"),
        splits=Path(config["demo"]["out_dir"]) / "splits.csv",
    log:
        RESULTS / "logs/make_demo.log",
    conda:
        "../../envs/demo.yaml"
    params:
        out_dir=lambda wildcards, output: Path(output.splits).parent,
        settings=json.dumps(config["demo"], sort_keys=True),
    shell:
        "headgan-prep make-demo --out {params.out_dir} --settings {params.settings:q} > {log} 2>&1"
