# Rules of package headgan_prep.manifest (tests: tests/manifest/)
checkpoint manifest:
    """List the clips with identity, split and shard (`results/manifest.tsv`)."""
    input:
        unpack(manifest_inputs),
    output:
        tsv=RESULTS / "manifest.tsv",
        shards=RESULTS / "manifest_shards.tsv",
        left_out=RESULTS / "rejected/manifest/left_out.tsv",
    log:
        RESULTS / "logs/manifest.log",
    conda:
        "../../envs/manifest.yaml"
    params:
        root=dataset_root(),
        split_csv=f"--split-csv {split_csv()}" if split_csv() else "",
        listing=dataset_listing_digest,
        settings=json.dumps(
            {
                "layout": config["dataset"]["layout"],
                "default_split": config["dataset"]["default_split"],
                "extensions": config["dataset"]["extensions"],
                **config["manifest"],
            },
            sort_keys=True,
        ),
    shell:
        "headgan-prep manifest --root {params.root} {params.split_csv} --settings {params.settings:q}"
        " --out {output.tsv} --shard-table {output.shards} --left-out {output.left_out} > {log} 2>&1"
