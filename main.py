"""Double-click / `python main.py` entry: opens QuantDesk (or runs a command: `python main.py --help`)."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
