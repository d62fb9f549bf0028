"""Dataset tools: MONAI datalists built from common cardiac MR folder layouts (ACDC, M&Ms, UK Biobank, DICOM study
trees, flat ``<case>_image`` / ``<case>_gt`` folders), seeded subject-grouped training / validation / test splits
(optionally stratified) and the check that no subject crosses splits; command line
``python -m custom_networks.datalists {build,split,check}``.

- :mod:`~custom_networks.datalists.layouts`: one importer per layout, :func:`detect_layout`, :func:`build_datalist`;
- :mod:`~custom_networks.datalists.split`: :func:`split_datalist`, :func:`check_datalist` and the split sizes;
- :mod:`~custom_networks.datalists.cli`: the commands and the datalist files they read and write.
"""

from __future__ import annotations

from custom_networks.datalists.cli import (
    PATH_OPTIONS,
    DatalistCLI,
    build_file,
    check_file,
    main,
    read_datalist,
    split_file,
    write_datalist,
)
from custom_networks.datalists.layouts import (
    ACDC_INFO_KEYS,
    DETECT_FOLDERS,
    LAYOUTS,
    MNMS_COLUMNS,
    MNMS_OPTIONAL_COLUMNS,
    PATH_KEYS,
    RELATIVE_NOTE,
    Importer,
    build_datalist,
    detect_layout,
    import_acdc,
    import_dicom,
    import_flat,
    import_mnms,
    import_ukbb,
)
from custom_networks.datalists.split import (
    DEFAULT_FRACTIONS,
    NUM_KEYS,
    SPLITS,
    check_datalist,
    split_datalist,
    split_indices,
    split_sizes,
    validate_fractions,
    validate_seed,
)

__all__ = [
    "ACDC_INFO_KEYS",
    "DEFAULT_FRACTIONS",
    "DETECT_FOLDERS",
    "LAYOUTS",
    "MNMS_COLUMNS",
    "MNMS_OPTIONAL_COLUMNS",
    "NUM_KEYS",
    "PATH_KEYS",
    "PATH_OPTIONS",
    "RELATIVE_NOTE",
    "SPLITS",
    "DatalistCLI",
    "Importer",
    "build_datalist",
    "build_file",
    "check_datalist",
    "check_file",
    "detect_layout",
    "import_acdc",
    "import_dicom",
    "import_flat",
    "import_mnms",
    "import_ukbb",
    "main",
    "read_datalist",
    "split_datalist",
    "split_file",
    "split_indices",
    "split_sizes",
    "validate_fractions",
    "validate_seed",
    "write_datalist",
]
