"""``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``."""

from __future__ import annotations

import sys

from custom_networks.evaluate.command import main
from custom_networks.utils.cli import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main, name="python -m custom_networks.evaluate", path_options=("--pred", "--ref", "--out")))
