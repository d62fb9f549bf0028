"""Dataset layouts and real cases, in one place: the one package that knows how datasets are laid out on disk. One
importer per layout (ACDC, M&Ms, UK Biobank, DICOM study trees, the flat ``<case>_image`` / ``<case>_gt`` form of the
real labelled sets), one registry (layout name -> importer; real set -> citation, licence, label mapping), MONAI
datalists built from a folder, seeded subject-grouped training / validation / test splits (optionally stratified) and
the check that no subject crosses splits, and the labelled stacks training runs read. Command line
``python -m custom_networks.datalists {build,split,check}``.

- :mod:`~custom_networks.datalists.base`: what the importers share (:class:`Layout`, :class:`RealSet`, items and
  skipped subjects, header checks);
- :mod:`~custom_networks.datalists.acdc`, :mod:`~custom_networks.datalists.mnms`,
  :mod:`~custom_networks.datalists.ukbb`, :mod:`~custom_networks.datalists.dicom`,
  :mod:`~custom_networks.datalists.flat`: one importer each (``flat`` also finds and reads the real labelled cases);
- :mod:`~custom_networks.datalists.registry`: :data:`LAYOUTS`, :data:`REAL_SETS`, :func:`get_layout`,
  :func:`detect_layout`;
- :mod:`~custom_networks.datalists.build`: :func:`build_datalist`;
- :mod:`~custom_networks.datalists.split`: :func:`split_datalist`, :func:`check_datalist` and the split sizes;
- :mod:`~custom_networks.datalists.training_stacks`: :func:`labelled_stacks`, :func:`slice_training_stacks`,
  :func:`mixing_weights`, :func:`trained_on`;
- :mod:`~custom_networks.datalists.ukdh`: the UK Digital Heart label maps (the data engine's real anatomy, label
  floors; RV = 4);
- :mod:`~custom_networks.datalists.cine_sax`: real cines with pseudo-labels (held-out-slice tests);
- :mod:`~custom_networks.datalists.cli`: the commands and the datalist files they read and write.

It imports nothing of the project but :mod:`custom_networks.core`; names are imported from their modules when first
used, so ``import custom_networks.datalists`` loads no reader.
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "cine_stacks": "cine_sax",
    "UKDH_LABEL_MAP": "ukdh",
    "MAX_HR_SPACING_MM": "ukdh",
    "UKDH_REQUIRED_CLASSES": "ukdh",
    "FloorPair": "ukdh",
    "find_floor_pairs": "ukdh",
    "find_label_maps": "ukdh",
    "ACDC_INFO_KEYS": "acdc",
    "ACDC_LABEL_MAP": "acdc",
    "import_acdc": "acdc",
    "NIFTI_SUFFIXES": "base",
    "PATH_KEYS": "base",
    "RELATIVE_NOTE": "base",
    "Importer": "base",
    "Layout": "base",
    "RealSet": "base",
    "build_datalist": "build",
    "PATH_OPTIONS": "cli",
    "DatalistCLI": "cli",
    "build_file": "cli",
    "check_file": "cli",
    "main": "cli",
    "read_datalist": "cli",
    "split_file": "cli",
    "write_datalist": "cli",
    "import_dicom": "dicom",
    "RealCase": "flat",
    "find_real_cases": "flat",
    "import_flat": "flat",
    "load_real_case": "flat",
    "MNMS_COLUMNS": "mnms",
    "MNMS_OPTIONAL_COLUMNS": "mnms",
    "import_mnms": "mnms",
    "DETECT_FOLDERS": "registry",
    "LAYOUTS": "registry",
    "REAL_SETS": "registry",
    "detect_layout": "registry",
    "get_layout": "registry",
    "DEFAULT_FRACTIONS": "split",
    "NUM_KEYS": "split",
    "SPLITS": "split",
    "check_datalist": "split",
    "split_datalist": "split",
    "split_indices": "split",
    "split_sizes": "split",
    "validate_fractions": "split",
    "validate_seed": "split",
    "GENERATED_SET": "training_stacks",
    "LABELLED_SPLITS": "training_stacks",
    "labelled_stacks": "training_stacks",
    "mixing_weights": "training_stacks",
    "slice_training_stacks": "training_stacks",
    "trained_on": "training_stacks",
    "import_ukbb": "ukbb",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
