"""The NMFC images of one shard: fit store and morphable model in, NMFC store out.

Every clip of the fit store (``results/fit/{shard}.zarr``) is rendered with
:class:`headgan_prep.render.renderer.NMFCRenderer` from its identity, expressions and cameras; frames the fit
marked invalid are black.

Store layout (Zarr v3, ``schema`` :data:`SCHEMA`)::

    {shard}.zarr/                          attrs: schema, shard, n_clips, model, size, config
      {clip_id}/                           attrs: clip_id, n_frames, n_valid
        nmfc   (T, 256, 256, 3) uint8      NMFC images (headgan_prep.render.renderer), one chunk per frame,
                                           one shard file per clip
        valid  (T,) bool                   the fit's valid frames

The store is written to a temporary sibling and renamed when complete; its bytes depend only on
the inputs and the configuration.
"""

from __future__ import annotations

from pathlib import Path

import zarr
from zarr.codecs import ZstdCodec

from headgan_prep.store.frame_shards import write_frames
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.store.rejections import ShardStats
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig, RenderConfigError
from headgan_prep.store.shard_job import clip_groups, shard_job
from headgan_prep.store.zarr_direct import create_group, write_array

SCHEMA = "headgan.nmfc/1"
NMFC_CODEC = ZstdCodec(level=0, checksum=False)
"""Compressor of the NMFC frames: zstd (Zarr's default) stores a 256² NMFC image, smooth colours on
black, in about 10 KB, half of what LZ4 needs, and decompresses in under 0.1 ms."""
DEFAULT_SIZE = 256
"""Default side of the NMFC images, pixels (the default crop size)."""


def render_shard(
    fit_store: Path, model_path: Path, out_store: Path, cfg: RenderConfig, size: int = DEFAULT_SIZE
) -> ShardStats:
    """Render the NMFC images of every clip of a fit store.

    Parameters
    ----------
    fit_store : Path
        ``results/fit/{shard}.zarr`` (schema ``headgan.fit/1``).
    model_path : Path
        The morphable model HDF5 file the clips were fitted with.
    out_store : Path
        Zarr store to create, ``{shard}.zarr``; its stem is the shard name. Replaced if it exists.
    cfg : RenderConfig
    size : int
        Side of the NMFC images, pixels: the crop size (``ingest.crop_size``) the cameras refer to.

    Returns
    -------
    ShardStats
        No clip is rejected: ``n_kept == n_clips``.

    Raises
    ------
    RenderConfigError
        ``cfg`` is not a :class:`RenderConfig`.
    headgan_prep.morphable.model.MorphableModelError
        The model file is missing or invalid.
    """
    if not isinstance(cfg, RenderConfig):
        raise RenderConfigError(f"cfg must be a RenderConfig, got {type(cfg).__name__}")
    model = MorphableModel.load(model_path)
    renderer = NMFCRenderer(model, size=size, batch=cfg.batch, colouring=cfg.colouring)
    fits = zarr.open_group(str(fit_store), mode="r")
    clip_ids = clip_groups(fits)
    stats = ShardStats(n_clips=len(clip_ids))
    attributes = {"schema": SCHEMA, "model": model.name, "size": size, "config": cfg.to_dict()}
    with shard_job(out_store, None, stats, attributes) as job:
        for clip_id in clip_ids:
            clip = fits[clip_id]
            valid = clip["valid"][...]
            images = renderer.render_clip(clip["identity"][...], clip["expression"][...], clip["camera"][...], valid)
            clip_attributes = {"clip_id": clip_id, "n_frames": int(len(valid)), "n_valid": int(valid.sum())}
            folder = create_group(job.root, clip_id, clip_attributes)
            write_frames(folder, "nmfc", images, NMFC_CODEC)
            write_array(folder, "valid", valid)
            job.kept(len(valid))
    return stats
