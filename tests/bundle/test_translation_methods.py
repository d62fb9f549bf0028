"""The list of the V-AMA bundle's translation methods shared by the benchmark scripts."""

from __future__ import annotations

import pytest
from monai.bundle import ConfigParser

from custom_networks.bundle.translation_methods import (
    METHOD_NAMES,
    TRANSLATION_METHODS,
    VAMA_BUNDLE,
    method_checkpoint,
    method_configs,
)


@pytest.mark.parametrize("method", TRANSLATION_METHODS)
def test_every_method_has_its_configs_name_and_shipped_weights(method):
    assert method in METHOD_NAMES
    for base in ("train.json", "inference.json"):
        files = [str(VAMA_BUNDLE / "configs" / c) for c in method_configs(method, base)]
        parser = ConfigParser(ConfigParser.load_config_files(files))
        assert parser["method"] == method  # the override file is the method's own
    assert method_checkpoint(method).is_file()


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown translation method"):
        method_configs("pix2pix", "train.json")
    with pytest.raises(ValueError, match="unknown translation method"):
        method_checkpoint("pix2pix")
