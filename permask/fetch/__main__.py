"""`python -m permask.fetch tracker=... depth=... [--to DIR]` (see permask.fetch.command)."""

import sys

from permask.fetch.command import main

sys.exit(main())
