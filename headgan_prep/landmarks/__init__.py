"""The landmarks stage: dense 3D face points per crop (MediaPipe FaceMesh, insightface 1k3d68)."""
