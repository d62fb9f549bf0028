from __future__ import annotations

import matplotlib.image as mpimg
import pytest

from custom_networks.core.errors import InputError
from custom_networks.data import preview_dataset, synthesize_dataset


def test_preview_png_is_written_and_not_blank(tmp_path):
    ds = synthesize_dataset(tmp_path / "ds", subjects=1, seed=2, progress=False)
    png = preview_dataset(ds, tmp_path / "fig" / "preview.png")
    img = mpimg.imread(png)
    assert img.shape[0] > 800 and img.shape[1] > 600
    assert img[..., :3].std() > 0.1  # images, not an empty canvas
    # Label contours are drawn in their colours (red LV blood pool present).
    red = (img[..., 0] > 0.9) & (img[..., 1] < 0.4) & (img[..., 2] < 0.4)
    assert red.sum() > 100
    with pytest.raises(InputError, match="no dataset.json"):
        preview_dataset(tmp_path, tmp_path / "x.png")
    with pytest.raises(InputError, match="subject not found"):
        preview_dataset(ds, tmp_path / "x.png", case="sub-9999")
