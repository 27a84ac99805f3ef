"""``python -m echoless``: the same as the ``echoless`` command."""

import sys

from echoless.cli import main

if __name__ == "__main__":
    sys.exit(main())
