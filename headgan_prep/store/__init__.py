"""The stores every stage writes: atomic writes, direct Zarr writes, frame shards, the store layout,
the shard-job frame and the rejection log."""
