"""``python -m custom_networks.data``: see :mod:`custom_networks.data.cli`."""

import sys

from custom_networks.data.cli import main

sys.exit(main())
