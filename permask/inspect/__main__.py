"""`python -m permask.inspect ...`: the same as `permask inspect ...`."""

import sys

from permask.inspect.command import main

if __name__ == "__main__":
    sys.exit(main())
