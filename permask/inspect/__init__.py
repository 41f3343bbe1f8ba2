"""`permask inspect`: look at an input NPZ before a run, and the instance tools.

- `summary`: what a file holds (members, cameras, masks, instances, what run.py would do) as one
  JSON-ready dict, read as a run reads it (no pickle code, the run's limits and errors);
- `printed`: that summary as 80-column tables;
- `instance_tools`: `--extract` (one instance as its own recording) and `--verify` (a run's
  instance files);
- `command`: the command line (`permask inspect`, `python -m permask.inspect`).
"""
