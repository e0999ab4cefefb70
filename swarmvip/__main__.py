"""`python -m swarmvip` runs the CLI."""

import sys

from swarmvip.cli import main

sys.exit(main())
