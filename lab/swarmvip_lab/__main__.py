"""`python -m swarmvip_lab ARGS` = `swarmvip lab ARGS` (the lab's own entry point)."""

import sys

from swarmvip.cli import main

sys.exit(main(["lab", *sys.argv[1:]]))
