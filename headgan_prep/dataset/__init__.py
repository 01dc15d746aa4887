"""The dataset stage: the index of each split, the sample reader, ``check`` and the dataset preview."""
