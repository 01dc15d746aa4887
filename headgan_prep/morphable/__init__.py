"""The 3D morphable model: the container, converters of published models, and a model learned from
the landmarks (rule ``learn_3dmm``)."""
