"""The manifest stage: the clips of a dataset with identity, split and a stable shard."""
