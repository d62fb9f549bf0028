"""``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``."""

from __future__ import annotations

import sys

from custom_networks.core.cli import run_cli
from custom_networks.evaluate.command import main

if __name__ == "__main__":
    sys.exit(run_cli(main, name="python -m custom_networks.evaluate", path_options=("--pred", "--ref", "--out")))
