"""``python -m custom_networks.evaluate --pred DIR --ref DIR --out REPORT_DIR``."""

from __future__ import annotations

import fire

from custom_networks.evaluate.command import main

if __name__ == "__main__":
    fire.Fire(main)
