"""Learned depth estimators, one module each: MoGe (-2 metric, -1 scale-invariant), VGGT, Depth
Anything V2 metric. Each runs its upstream model (a local clone or package, else the pinned commit
fetched by `permask.fetch`; weights likewise) on the scene's video, caches the raw prediction
(`permask.depth.cache`), brings it into the file's metric frame on every run
(`permask.depth.align`) and by default only fills the file's holes (`keep_measured`). The
upstream interfaces it relies on: docs/depth.md.
"""
