"""permask: per-mask independent 3D point tracking on multi-view RGB-D recordings.

The front door (see `permask.api`): `compose`, `load_scene`, `load_input`, `make_tracker`,
`build_queries`, `run`. Imported on first use, so `import permask` stays light.
"""

__version__ = "0.1.0"

_FRONT_DOOR = {
    "compose": "permask.api",
    "make_tracker": "permask.api",
    "run": "permask.api",
    "load_scene": "permask.inputs.load",
    "load_input": "permask.pipeline",
    "build_queries": "permask.queries",
}
__all__ = ["__version__", *_FRONT_DOOR]


def __getattr__(name: str):
    if name in _FRONT_DOOR:
        import importlib

        return getattr(importlib.import_module(_FRONT_DOOR[name]), name)
    raise AttributeError(f"module 'permask' has no attribute {name!r}")
