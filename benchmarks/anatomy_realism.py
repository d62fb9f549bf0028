"""Do generated stacks look like real ones? Anatomy and appearance statistics of generated and real labelled stacks.

Usage::

    python benchmarks/anatomy_realism.py --data ../shared/data/real_labelled --out benchmarks/results/anatomy_realism \\
        [--generated gemini_gan_bundle/data/synthetic_source] [--randomised 0]

For every stack (generated: the native stacks ``lr_image`` / ``lr_label`` of a generated dataset; real: the
expert-labelled stacks, with the labelled slices of labelled classes only), on its own grid:

- **anatomy**: LV blood pool, LV myocardium and RV volumes (mL), LV / RV volume ratio, and myocardial wall
  thickness (mm: per slice with LV and myocardium, ``sqrt((A_lv + A_myo) / pi) - sqrt(A_lv / pi)``; median over
  slices);
- **appearance** (the image as the network sees it: 0.5-99.5 percentile scaling): mean intensity of the LV blood
  pool, the myocardium, the RV and of a 10 mm ring of tissue around the heart, and the in-plane field of view (mm).

``--randomised N`` adds N stacks of on-the-fly randomised synthesis (``RandStackSynthesisd``, default ranges) drawn
from the generated dataset's tissue maps (appearance only: the anatomy is the dataset's).

Writes ``summary.md`` (median [5th-95th percentile] per group), ``stacks.csv`` and ``realism.png`` (box plots). The
ACDC volumes are approximate (the conversion kept a nominal voxel size). Figures of ACDC and M&Ms are not committed
(their terms): ``realism.png`` shows the groups of ``--plot_groups`` (default the generated ones and Sunnybrook,
CC0); the tables hold every group.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from custom_networks.core.cli import run_cli
from custom_networks.core.errors import InputError
from custom_networks.core.geometry import slice_axis_of, spacing_from_affine
from custom_networks.core.label_maps import load_label, read_annotation
from custom_networks.core.nifti import atomic_output_dir, load_nifti, save_figure
from custom_networks.datalists.flat import find_real_cases

ANATOMY = ("lv_ml", "myo_ml", "rv_ml", "lv_rv_ratio", "wall_mm")
APPEARANCE = ("int_lv", "int_myo", "int_rv", "int_ring", "fov_mm")
NAMES = {
    "lv_ml": "LV blood pool (mL)",
    "myo_ml": "LV myocardium (mL)",
    "rv_ml": "RV (mL)",
    "lv_rv_ratio": "LV / RV volume",
    "wall_mm": "wall thickness (mm)",
    "int_lv": "intensity LV blood",
    "int_myo": "intensity myocardium",
    "int_rv": "intensity RV blood",
    "int_ring": "intensity 10 mm ring",
    "fov_mm": "in-plane FOV (mm)",
}


def stack_statistics(image: np.ndarray, label: np.ndarray, affine: np.ndarray, classes=(1, 2, 3), slices=None) -> dict:
    """Anatomy and appearance statistics of one labelled stack (see the module docstring).

    Args:
        image: the stack.
        label: its label map (same grid).
        affine: voxel-to-world affine.
        classes: the labelled classes (others give NaN).
        slices: boolean mask of the labelled slices (None: all).
    """
    axis = slice_axis_of(affine)
    spacing = spacing_from_affine(affine)
    image = np.moveaxis(np.asarray(image, np.float32), axis, -1)
    label = np.moveaxis(np.asarray(label), axis, -1)
    inplane = [s for a, s in enumerate(spacing) if a != axis]
    voxel_ml = float(np.prod(spacing)) / 1000.0
    keep = np.ones(label.shape[-1], bool) if slices is None else np.asarray(slices, bool)
    label = np.where(keep[None, None, :], label, 0)
    lo, hi = np.percentile(image, [0.5, 99.5])
    scaled = np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)
    nan = math.nan
    out = {k: nan for k in (*ANATOMY, *APPEARANCE)}
    for c, key in ((1, "lv"), (2, "myo"), (3, "rv")):
        if c in classes:
            out[f"{key}_ml"] = float((label == c).sum()) * voxel_ml
            if (label == c).any():
                out[f"int_{key}"] = float(scaled[label == c].mean())
    if 1 in classes and 3 in classes and out["rv_ml"] > 0:
        out["lv_rv_ratio"] = out["lv_ml"] / out["rv_ml"]
    if 2 in classes:
        area = float(np.prod(inplane))
        walls = []
        for k in range(label.shape[-1]):
            a_lv, a_myo = (label[..., k] == 1).sum() * area, (label[..., k] == 2).sum() * area
            if a_lv > 0 and a_myo > 0:
                walls.append(math.sqrt((a_lv + a_myo) / math.pi) - math.sqrt(a_lv / math.pi))
        out["wall_mm"] = float(np.median(walls)) if walls else nan
    heart = label > 0
    if heart.any():
        radius = [max(1, round(10.0 / s)) for s in inplane]
        structure = np.zeros((2 * radius[0] + 1, 2 * radius[1] + 1, 1), bool)
        yy, xx = np.ogrid[-radius[0] : radius[0] + 1, -radius[1] : radius[1] + 1]
        structure[..., 0] = (yy / radius[0]) ** 2 + (xx / radius[1]) ** 2 <= 1
        ring = ndimage.binary_dilation(heart, structure) & ~heart & keep[None, None, :]
        if ring.any():
            out["int_ring"] = float(scaled[ring].mean())
    out["fov_mm"] = float(max(n * s for n, s in zip(image.shape[:2], inplane, strict=True)))
    return out


def _generated_rows(dataset: Path, randomised: int, group: str = "generated") -> list[dict]:
    items = []
    meta = json.loads((dataset / "dataset.json").read_text())
    for split in ("training", "validation", "test"):
        items += meta[split]
    rows = []
    for item in items:
        image, affine = load_nifti(dataset / item["lr_image"])
        label, _ = load_label(dataset / item["lr_label"])
        rows.append({"group": group, "case": f"{item['subject']}_{item['phase']}",
                     **stack_statistics(image, label, affine)})  # fmt: skip
    if randomised:
        from custom_networks.transforms import RandStackSynthesisd

        with_tissue = [i for i in items if "tissue" in i]
        if not with_tissue:
            raise InputError(f"{dataset}: no hr_tissue maps (regenerate the dataset) for --randomised")
        synth = RandStackSynthesisd("tissue")
        synth.set_random_state(0)
        for n in range(int(randomised)):
            item = with_tissue[n % len(with_tissue)]
            tissue, hr_affine = load_nifti(dataset / item["tissue"], dtype=np.float32)
            synth.randomize()
            out = synth.render(np.rint(tissue).astype(np.int64), hr_affine)
            stats = stack_statistics(np.asarray(out["image"][0]), np.asarray(out["label"][0]), hr_affine)
            stats.update({k: math.nan for k in ANATOMY})  # the anatomy is the generated dataset's (above)
            rows.append({"group": "randomised", "case": f"draw{n}_{item['subject']}_{item['phase']}", **stats})
    return rows


def _real_rows(data: Path, sets: list[str] | None) -> list[dict]:
    cases, _ = find_real_cases(data, sets)
    rows = []
    for case in cases:
        image, affine = load_nifti(case.image)
        label, _ = load_label(case.label, case.label_map)
        axis = slice_axis_of(affine)
        annotation = read_annotation(case.slices_json, axis, image.shape[axis])
        classes = [c for c in (1, 2, 3) if annotation.labelled(c)]
        stats = stack_statistics(image, label, affine, classes, annotation.fully_labelled_slices())
        if case.slices_json is not None:  # partial labels: volumes of the contoured slices only are not volumes
            stats.update({k: math.nan for k in ("lv_ml", "myo_ml", "rv_ml", "lv_rv_ratio")})
        rows.append({"group": case.set, "case": case.name, **stats})
    return rows


def _summary_table(rows: list[dict], keys, groups) -> list[str]:
    lines = ["| measure | " + " | ".join(groups) + " |", "| --- |" + " --- |" * len(groups)]
    for key in keys:
        cells = []
        for g in groups:
            v = np.asarray([r[key] for r in rows if r["group"] == g], float)
            v = v[np.isfinite(v)]
            cells.append(
                f"{np.median(v):.3g} [{np.percentile(v, 5):.3g}-{np.percentile(v, 95):.3g}] (n={v.size})"
                if v.size
                else "n/a"
            )
        lines.append(f"| {NAMES[key]} | " + " | ".join(cells) + " |")
    return lines


def _plot(rows: list[dict], groups: list[str], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: files only, no global backend

    keys = [*ANATOMY, *APPEARANCE]
    fig = Figure(figsize=(17, 6.5))
    axes = fig.subplots(2, 5)
    for ax, key in zip(axes.flat, keys, strict=True):
        data, names = [], []
        for g in groups:
            v = np.asarray([r[key] for r in rows if r["group"] == g], float)
            v = v[np.isfinite(v)]
            if v.size:
                data.append(v)
                names.append(g)
        if data:
            ax.boxplot(data, showfliers=True)
            ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
        ax.set_title(NAMES[key], fontsize=10)
    fig.suptitle("Generated vs real short-axis stacks: anatomy (top) and appearance (bottom)")
    fig.tight_layout()
    save_figure(fig, path)


def run(
    data: str = "../shared/data/real_labelled",
    out: str = "benchmarks/results/anatomy_realism",
    generated: str = "gemini_gan_bundle/data/synthetic_source",
    sets: str | None = None,
    randomised: int = 0,
    plot_groups: str = "generated*,randomised,sunnybrook",
    overwrite: bool = False,
) -> Path:
    """Statistics of generated and real stacks, side by side; see the module docstring.

    Args:
        data: the ``real_labelled`` folder.
        out: report folder (written complete or not at all).
        generated: generated dataset folder(s), comma-separated (one group each; the randomised draws use the last).
        sets: real sets (comma-separated; default all).
        randomised: number of randomised draws to add.
        plot_groups: groups drawn in ``realism.png``, shell patterns (default: the generated ones and Sunnybrook,
            CC0; ACDC and M&Ms figures are not to be committed).
        overwrite: replace an existing report.
    """
    folders = [Path(g.strip()) for g in generated.split(",")] if isinstance(generated, str) else list(generated)
    for folder in folders:
        if not (Path(folder) / "dataset.json").is_file():
            raise InputError(
                f"{folder}: no generated dataset (dataset.json); make one with `python -m custom_networks.data synth`"
            )
    sets_list = [x.strip() for x in sets.split(",")] if isinstance(sets, str) else None
    rows = []
    for n, folder in enumerate(folders):
        group = "generated" if len(folders) == 1 else f"generated {Path(folder).name}"
        rows += _generated_rows(Path(folder), randomised if n == len(folders) - 1 else 0, group)
    rows += _real_rows(Path(data), sets_list)
    groups = list(dict.fromkeys(r["group"] for r in rows))
    lines = [
        "# Generated vs real short-axis stacks",
        "",
        f"Made by: `.venv/bin/python benchmarks/anatomy_realism.py --data {data} --out {out} --generated {generated}"
        + (f" --sets {sets}" if sets else "")
        + (f" --randomised {randomised}" if randomised else "")
        + "`",
        "",
        "Median [5th-95th percentile] (n stacks) per group; real stacks on their labelled slices and classes only "
        "(ACDC volumes approximate: nominal voxel size; Sunnybrook volumes not given: partial labels). Intensities "
        "after 0.5-99.5 percentile scaling, as the network sees them.",
        "",
        "## Anatomy",
        "",
        *_summary_table(rows, ANATOMY, groups),
        "",
        "## Appearance",
        "",
        *_summary_table(rows, APPEARANCE, groups),
    ]
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        with open(tmp / "stacks.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["group", "case", *ANATOMY, *APPEARANCE])
            writer.writeheader()
            writer.writerows(rows)
        drawn = [g.strip() for g in plot_groups.split(",")] if isinstance(plot_groups, str) else list(plot_groups)
        _plot(rows, [g for g in groups if any(fnmatch.fnmatch(g, d) for d in drawn)], tmp / "realism.png")
        (tmp / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return Path(out)


if __name__ == "__main__":
    sys.exit(
        run_cli(
            run, name="benchmarks/anatomy_realism.py", path_options=("data", "out", "generated", "sets", "plot_groups")
        )
    )
