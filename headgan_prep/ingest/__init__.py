"""The ingest stage: decoding, face detection, tracking of the main face and the fixed crop per clip."""
