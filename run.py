"""permask entry point: `python run.py [overrides]`, `python run.py -m tracker=static,lk`.

The same as the installed `permask` command: all logic lives in the `permask` package
(`permask/cli.py`); the configs are `conf/` (the package's `permask/conf`).
"""

from permask.allocators import release_freed_memory_promptly

release_freed_memory_promptly()  # before rerun-sdk loads its allocator

from permask.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
