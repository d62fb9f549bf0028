"""``python -m custom_networks.datalists``: see :mod:`custom_networks.datalists.cli`."""

from __future__ import annotations

import sys

from custom_networks.datalists.cli import main

sys.exit(main())
