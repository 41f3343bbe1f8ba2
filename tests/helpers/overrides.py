"""Command-line overrides for small, quiet runs of the built-in demo scene."""

from __future__ import annotations

SMALL_DEMO = {"num_views": 3, "num_frames": 16, "height": 96, "width": 128}
"""The small demo: fast enough for end-to-end tests, big enough for trackers to differ."""


def demo(**params) -> list[str]:
    """`input.demo.*` overrides of the small demo with `params` changed (e.g. num_frames=8)."""
    return [f"input.demo.{key}={value}" for key, value in {**SMALL_DEMO, **params}.items()]


SMALL_DEMO_OVERRIDES = demo()


def quick(max_points: int = 20, record: bool = False, **demo_params) -> list[str]:
    """A small demo run without progress bars: `max_points` queries per instance, the Rerun
    recording only when `record`, `demo_params` changing the small demo (see `demo`)."""
    return [*demo(**demo_params), f"query.max_points={max_points}", "progress=false",
            *([] if record else ["record.enabled=false"])]
