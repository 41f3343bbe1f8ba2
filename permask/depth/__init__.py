"""Depth sources (the `depth` config group): each turns a loaded Scene into the Scene every later
stage sees. Built from config via `_target_`; `apply(scene) -> Scene`."""
