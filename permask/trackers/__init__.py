"""Trackers: built once per process from the `tracker` config group, reused for every instance."""
