"""The V-AMA bundle's data: paired source / target datasets (generated, rigidly aligned, their label registrations
checked), the source twins that are a translation's ground truth, and the external test cohort."""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "PAIR_KEYS": "domain_pairs",
    "SPLITS": "domain_pairs",
    "ensure_paired_dataset": "domain_pairs",
    "load_pairs": "domain_pairs",
    "pair_datasets": "domain_pairs",
    "TWIN_DIR": "source_twins",
    "TWIN_KEYS": "source_twins",
    "add_source_twins": "source_twins",
    "evaluation_input_key": "source_twins",
    "twins_available": "source_twins",
    "EXTERNAL_DIR": "external_test",
    "ensure_external_test": "external_test",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
