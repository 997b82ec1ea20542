"""``python -m lakehold.cli.daemon STAMP``: the home's warm process (started by a command)."""

import sys

from lakehold.cli.daemon.process import main

sys.exit(main(sys.argv[1]))
