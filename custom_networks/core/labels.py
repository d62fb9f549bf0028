"""The project's label convention: values, names, short names for score keys and overlay colours.

0 background, 1 LV blood pool (papillary muscles and trabeculations inside it count as blood pool, as ACDC and M&Ms
label them), 2 LV myocardium, 3 RV blood pool. Every label map the project reads or writes uses these values.
"""

from __future__ import annotations

__all__ = ["CLASS_NAMES", "FOREGROUND_LABELS", "LABEL_COLORS", "LABEL_NAMES", "NUM_CLASSES"]

#: Label value -> name.
LABEL_NAMES: dict[int, str] = {0: "background", 1: "LV blood pool", 2: "LV myocardium", 3: "RV"}
#: Foreground label values.
FOREGROUND_LABELS: tuple[int, ...] = (1, 2, 3)
#: Number of label values (background included): the segmentation networks' output channels.
NUM_CLASSES = 4
#: Short names of the foreground classes, used in score keys (``dice_lv``, ``hd95_myo``, ...).
CLASS_NAMES: dict[int, str] = {1: "lv", 2: "myo", 3: "rv"}
#: Overlay colours of labels 1 (LV blood pool), 2 (LV myocardium), 3 (RV).
LABEL_COLORS: dict[int, str] = {1: "#ff3b30", 2: "#34c759", 3: "#0a84ff"}
