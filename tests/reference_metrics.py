"""The reference metric code of TAPVid-3D, TAP-Vid and MVTracker (../shared/upstream, see its
README), loaded for the tests only: just the metrics, never the rest of those projects.

- TAPVid-3D: `tapnet/tapvid3d/evaluation/metrics.py` loaded as a file (needs einops);
- TAP-Vid: only the `compute_tapvid_metrics` function of `tapnet/tapvid/evaluation_datasets.py`
  (that module imports tensorflow, mediapy, ...; the function itself needs numpy only), compiled
  from the file's own source text;
- MVTracker: `mvtracker/evaluation/metrics.py` loaded as a file (needs torch and pandas).

Each loader returns the module (or namespace), or raises `Unavailable` with the reason.
"""

from __future__ import annotations

import ast
import importlib.util
import types
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from tests import upstream_models as um

TAPNET = "tapnet@c2cbab8"


class Unavailable(Exception):
    """The reference cannot be loaded here (folder or a dependency missing)."""


def _path(*parts):
    base = um.upstream_dir()
    if base is None:
        raise Unavailable("no upstream folder: ../shared/upstream or $PERMASK_UPSTREAM_DIR")
    path = base.joinpath(*parts)
    if not path.is_file():
        raise Unavailable(f"{path} is missing")
    return path


def _load_file(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as err:
        raise Unavailable(f"{path.name}: {err}") from None
    return module


def tapvid3d():
    """tapnet's TAPVid-3D metrics module (`compute_tapvid3d_metrics`, ...)."""
    return _load_file("reference_tapvid3d_metrics",
                      _path(TAPNET, "tapnet", "tapvid3d", "evaluation", "metrics.py"))


def tapvid2d():
    """A namespace holding tapnet's `compute_tapvid_metrics`, compiled from its own source."""
    path = _path(TAPNET, "tapnet", "tapvid", "evaluation_datasets.py")
    tree = ast.parse(path.read_text(), filename=str(path))
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name == "compute_tapvid_metrics"]
    if not found:
        raise Unavailable(f"{path}: no compute_tapvid_metrics")
    import typing

    namespace = {"np": np, "Mapping": typing.Mapping, "__name__": "reference_tapvid2d"}
    exec(compile(ast.Module(body=found, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return types.SimpleNamespace(compute_tapvid_metrics=namespace["compute_tapvid_metrics"])


def mvtracker():
    """MVTracker's evaluation metrics module (`evaluate_predictions`, `compute_metrics`, ...)."""
    return _load_file("reference_mvtracker_metrics",
                      _path("mvtracker@ceea8ad", "mvtracker", "evaluation", "metrics.py"))


@contextmanager
def quiet():
    """The references' all-NaN medians and 0/0 figures warn; the figure is NaN either way."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 on torch's argmax
        yield


def mvtracker_unrounded(refmv, gt_tracks, gt_vis, pred_tracks, pred_occluded, qp, s):
    """The reference's groups before its DataFrame rounds them: evaluate_predictions with
    pandas' DataFrame replaced by a pass-through."""
    captured = {}

    class Frame(dict):
        def __init__(self, data):
            super().__init__(data)
            captured.setdefault("results", data)

        def round(self, _):
            return self

    with pytest.MonkeyPatch.context() as mp, quiet():
        mp.setattr(refmv.pd, "DataFrame", Frame)
        refmv.evaluate_predictions(
            gt_tracks, gt_vis, pred_tracks, pred_occluded, qp,
            distance_thresholds=list(s.distance_thresholds),
            survival_distance_threshold=s.survival_threshold,
            static_threshold=s.static_threshold, dynamic_threshold=s.dynamic_threshold,
            very_dynamic_threshold=s.very_dynamic_threshold)
    return captured["results"]
