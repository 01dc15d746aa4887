"""Manifest: layouts, split CSV, stable ids and shards."""

from pathlib import Path

import pytest

from headgan_prep.manifest.table import (
    ManifestError,
    build_manifest,
    clip_id_for,
    clips_by_shard,
    find_videos,
    listing_digest,
    read_manifest,
    read_shard_table,
    shard_count,
    shard_listings,
    write_manifest,
    write_shard_table,
)


def touch_all(root: Path, paths) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


VOX = [
    "id10001/1zcIwhmdeo4/00001.mp4",
    "id10001/1zcIwhmdeo4/00002.mp4",
    "id10001/7w0IBEWc9Qw/00001.mp4",
    "id10002/C7k7C-PDvAA/00001.mp4",
    "id10003/_uNup1B5K-s/00003.mp4",
]


def test_voxceleb_layout_ids_identities_and_default_split(tmp_path):
    touch_all(tmp_path, VOX + ["id10003/_uNup1B5K-s/notes.txt", "id10003/.hidden/00001.mp4"])
    clips, left_out = build_manifest(tmp_path)
    assert left_out == []
    by_path = {c.path: c for c in clips}
    assert sorted(by_path) == sorted(VOX)
    clip = by_path["id10002/C7k7C-PDvAA/00001.mp4"]
    assert clip.clip_id == "id10002+C7k7C-PDvAA+00001"
    assert clip.identity == "id10002"
    assert clip.split == "train"
    assert clip.shard == "train-0000"


def test_flat_layout_identity_from_file_name(tmp_path):
    touch_all(tmp_path, ["alice_001.mp4", "alice_002.MP4", "bob.avi"])
    clips, _ = build_manifest(tmp_path)
    assert {(c.clip_id, c.identity) for c in clips} == {
        ("alice_001", "alice"),
        ("alice_002", "alice"),
        ("bob", "bob"),
    }


def test_mixed_depths_are_an_error_unless_layout_given(tmp_path):
    touch_all(tmp_path, ["a.mp4", "id1/yt/00001.mp4"])
    with pytest.raises(ManifestError, match="cannot tell the dataset layout"):
        build_manifest(tmp_path)
    with pytest.raises(ManifestError, match="voxceleb layout"):
        build_manifest(tmp_path, layout="voxceleb")


def test_empty_and_missing_roots(tmp_path):
    with pytest.raises(ManifestError, match="no video files"):
        build_manifest(tmp_path)
    with pytest.raises(ManifestError, match="not a directory"):
        build_manifest(tmp_path / "nope")


def test_split_csv_with_and_without_extension_and_left_out(tmp_path):
    root = tmp_path / "data"
    touch_all(root, VOX)
    csv = tmp_path / "splits.csv"
    csv.write_text(
        "filename,split\n"
        "id10001/1zcIwhmdeo4/00001.mp4,train\n"
        "id10001/1zcIwhmdeo4/00002,train\n"
        "id10002/C7k7C-PDvAA/00001.mp4,test\n"
        "id99999/gone/00001.mp4,test\n"
    )
    clips, left_out = build_manifest(root, split_csv=csv, default_split=None)
    assert {c.path: c.split for c in clips} == {
        "id10001/1zcIwhmdeo4/00001.mp4": "train",
        "id10001/1zcIwhmdeo4/00002.mp4": "train",
        "id10002/C7k7C-PDvAA/00001.mp4": "test",
    }
    assert sorted(p for p, _ in left_out) == ["id10001/7w0IBEWc9Qw/00001.mp4", "id10003/_uNup1B5K-s/00003.mp4"]
    assert all(c.shard.startswith(c.split + "-") for c in clips)
    clips, left_out = build_manifest(root, split_csv=csv, default_split="train")
    assert left_out == [] and len(clips) == len(VOX)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,part\na.mp4,train\n", "filename,split"),
        ("filename,split\na.mp4,\n", "empty filename or split"),
        ("filename,split\na.mp4,train\na.mp4,test\n", "two splits"),
        ("filename,split\na.mp4,dev-set\n", "split name"),
    ],
)
def test_bad_split_csv(tmp_path, text, message):
    touch_all(tmp_path / "d", ["a.mp4"])
    (tmp_path / "s.csv").write_text(text)
    with pytest.raises(ManifestError, match=message):
        build_manifest(tmp_path / "d", split_csv=tmp_path / "s.csv")


@pytest.mark.parametrize("n, per, expected", [(0, 4, 1), (1, 4, 1), (4, 4, 1), (5, 4, 2), (9, 4, 4), (17, 4, 8)])
def test_shard_count_is_next_power_of_two(n, per, expected):
    assert shard_count(n, per) == expected


def many_clips(n):
    return [f"id{1000 + i // 7:05d}/yt{i % 7:09d}/{i:05d}.mp4" for i in range(n)]


def test_adding_or_removing_a_clip_changes_only_its_shard(tmp_path):
    paths = many_clips(200)
    touch_all(tmp_path, paths)
    before = clips_by_shard(build_manifest(tmp_path, clips_per_shard=16)[0])
    assert len(before) == 16
    assert max(len(v) for v in before.values()) < 2 * 200 / 16

    new = "id09999/newvideo000/00001.mp4"
    touch_all(tmp_path, [new])
    (tmp_path / paths[3]).unlink()
    after = clips_by_shard(build_manifest(tmp_path, clips_per_shard=16)[0])
    changed = {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
    new_shard = next(c.shard for v in after.values() for c in v if c.path == new)
    old_shard = next(c.shard for v in before.values() for c in v if c.path == paths[3])
    assert changed == {new_shard, old_shard}


def test_fixed_shard_count_and_roundtrip(tmp_path):
    touch_all(tmp_path / "d", many_clips(40))
    clips, _ = build_manifest(tmp_path / "d", n_shards=3)
    assert {c.shard for c in clips} == {"train-0000", "train-0001", "train-0002"}
    write_manifest(clips, tmp_path / "m.tsv")
    assert read_manifest(tmp_path / "m.tsv") == clips
    assert not list(tmp_path.glob(".m.tsv.tmp*"))


def test_clip_ids_are_stable_strings():
    assert clip_id_for("a/b/c.mp4") == "a+b+c"
    assert clip_id_for("x.mkv") == "x"


def test_listing_digest_tracks_additions_and_edits(tmp_path):
    assert listing_digest(tmp_path / "nope") == "absent"
    touch_all(tmp_path, ["a.mp4", "b.mp4"])
    first = listing_digest(tmp_path)
    assert listing_digest(tmp_path) == first
    (tmp_path / "b.mp4").write_bytes(b"longer content")
    second = listing_digest(tmp_path)
    assert second != first
    touch_all(tmp_path, ["c.mp4"])
    assert listing_digest(tmp_path) != second


def test_find_videos_skips_hidden_and_other_files(tmp_path):
    touch_all(tmp_path, [*VOX, ".hidden/a/b.mp4", "id1/.x/c.mp4", "id1/y/.d.mp4", "id1/y/notes.txt", "id1/y/E.MP4"])
    assert find_videos(tmp_path) == sorted([*VOX, "id1/y/E.MP4"])


def test_shard_listing_changes_with_its_own_clips_only(tmp_path):
    touch_all(tmp_path / "d", [f"id{i:05d}/yt/{j:05d}.mp4" for i in range(8) for j in range(4)])
    clips, _ = build_manifest(tmp_path / "d", n_shards=4)
    before = shard_listings(clips, tmp_path / "d")
    assert sum(n for n, _ in before.values()) == 32 and len(before) == 4
    assert shard_listings(clips, tmp_path / "d") == before

    edited = clips[0]
    (tmp_path / "d" / edited.path).write_bytes(b"other content")
    after = shard_listings(clips, tmp_path / "d")
    assert {s for s in before if before[s] != after[s]} == {edited.shard}

    (tmp_path / "d" / clips[-1].path).unlink()
    gone = shard_listings(clips, tmp_path / "d")
    assert {s for s in after if after[s] != gone[s]} == {clips[-1].shard}

    write_shard_table(gone, tmp_path / "shards.tsv")
    assert read_shard_table(tmp_path / "shards.tsv") == gone
    assert (tmp_path / "shards.tsv").read_text().splitlines()[0] == "shard\tclips\tlisting"
    (tmp_path / "bad.tsv").write_text("a\tb\n")
    with pytest.raises(ManifestError, match="expected columns"):
        read_shard_table(tmp_path / "bad.tsv")
