"""HeadGAN preprocessing, one package per stage of the DAG.

``manifest`` → ``ingest`` → ``landmarks`` → ``morphable`` → ``fit`` → ``render``, ``audio`` beside,
→ ``dataset``; ``store`` (Zarr writes, store layout, rejection log), ``models`` (model files),
``demo`` (the bundled demo dataset), ``preview`` (grid pictures) and ``settings`` serve them all.
"""

__version__ = "0.1.0"
