"""`python -m collector.cli ...`: the same as the `fleetwatch` command."""
import sys

from collector.cli.entry import main

sys.exit(main())
