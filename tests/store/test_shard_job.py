import pytest
import zarr

from headgan_prep.store.rejections import RejectionRow, ShardStats, read_rejections
from headgan_prep.store.shard_job import shard_job


def test_a_finished_job_has_its_store_log_and_stats(tmp_path):
    stats = ShardStats(n_clips=3)
    with shard_job(tmp_path / "train-0001.zarr", tmp_path / "rejected.tsv", stats, {"schema": "x/1"}) as job:
        for clip_id, n_frames in (("a", 10), ("c", 5)):
            job.root.create_group(clip_id)
            job.kept(n_frames)
        job.reject(RejectionRow("b", "b.mp4", "ingest", "no_face", "0 of 10 frames"))
        assert set(job.progress()) == {"kept", "rejected", "fps"}
    root = zarr.open_group(str(tmp_path / "train-0001.zarr"), mode="r")
    assert dict(root.attrs) == {"schema": "x/1", "shard": "train-0001", "n_clips": 2}
    assert [row.clip_id for row in read_rejections(tmp_path / "rejected.tsv")] == ["b"]
    assert (stats.n_kept, stats.n_rejected, stats.n_frames) == (2, 1, 15)
    assert stats.rejected_by_reason == {"no_face": 1} and stats.seconds > 0


def test_a_failed_job_leaves_nothing_that_looks_finished(tmp_path):
    with pytest.raises(RuntimeError):
        with shard_job(tmp_path / "s.zarr", tmp_path / "rejected.tsv", ShardStats(), {"schema": "x/1"}) as job:
            job.root.create_group("a")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
