"""permask: per-mask independent 3D point tracking on multi-view RGB-D recordings."""

__version__ = "0.1.0"
