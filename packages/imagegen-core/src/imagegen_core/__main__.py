"""``python -m imagegen_core``: the same command as the ``imagegen`` script."""

import sys

from imagegen_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
