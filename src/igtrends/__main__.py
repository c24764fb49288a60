"""Run the igtrends command line with ``python -m igtrends``."""

import sys

from igtrends.cli import main

if __name__ == "__main__":
    sys.exit(main())
