"""Running a bundle config programmatically (demo, benchmarks, tests): the same code path as
``python -m monai.bundle run``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai.bundle import ConfigWorkflow

__all__ = ["GEMINI_BUNDLE", "load_workflow"]

#: The Gemini-GAN bundle folder of this repository.
GEMINI_BUNDLE = Path(__file__).resolve().parents[2] / "gemini_gan_bundle"


def load_workflow(
    configs: Sequence[str], bundle: str | Path = GEMINI_BUNDLE, run_id: str = "run", **overrides: Any
) -> ConfigWorkflow:
    """Parse and initialise a bundle workflow (``run()`` / ``finalize()`` are left to the caller).

    Args:
        configs: config file names inside ``<bundle>/configs`` (layered in order), e.g. ``["inference.json"]``.
        bundle: bundle folder.
        run_id: id of the program to run (``run``, ``training``, ``evaluating``, ...).
        overrides: config overrides (``bundle_root`` defaults to ``bundle``).
    """
    bundle = Path(bundle)
    workflow = ConfigWorkflow(
        config_file=[str(bundle / "configs" / c) for c in configs],
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=False,
        workflow_type=None,
        run_id=run_id,
        **{"bundle_root": str(bundle), **overrides},
    )
    workflow.initialize()
    return workflow
