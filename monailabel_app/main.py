"""MONAI Label app serving this repository's Gemini-GAN bundle (the ``monaibundle``-style app, reduced to it).

Start it (in the MONAI Label environment, ``make test-monailabel`` builds it)::

    .venv-monailabel/bin/python -m monailabel.main start_server --app monailabel_app --studies /path/to/studies \\
        --host 127.0.0.1 --port 8000

then, in 3D Slicer's MONAI Label module, connect to ``http://127.0.0.1:8000``, pick a study and run
``gemini_gan``. The model is the bundle's own ``configs/inference.json`` with ``models/model.pt``, wrapped in MONAI
Label's ``BundleInferTask``: the label map (1 LV blood pool, 2 LV myocardium, 3 RV) comes back on the HR grid over
the study's field of view, in world coordinates, so it overlays the study in the viewer.

``--conf bundle <folder>`` serves another bundle folder (a packaged one, say).
"""

from __future__ import annotations

import logging
from pathlib import Path

from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.infer.bundle import BundleInferTask

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]


class GeminiGanApp(MONAILabelApp):
    """One model: ``gemini_gan`` (joint super-resolution + segmentation of short-axis stacks).

    Args:
        app_dir: this folder.
        studies: the studies folder (NIfTI stacks; MONAI Label's local datastore).
        conf: ``--conf`` pairs; ``bundle``: bundle folder (default: this repository's ``gemini_gan_bundle``).
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        self.bundle = str(Path(conf.get("bundle", REPO / "gemini_gan_bundle")).resolve())
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name="Gemini-GAN (cardiac short-axis SR + segmentation)",
            description="Segments LV blood pool, LV myocardium and RV of short-axis cine MR stacks on an HR grid",
            version="1",
        )

    def init_infers(self) -> dict:
        """The bundle's inference, as MONAI Label's bundle apps load it."""
        task = BundleInferTask(self.bundle, self.conf)
        if not task.is_valid():
            raise RuntimeError(f"{self.bundle}: not a loadable bundle (configs/inference.json, models/model.pt)")
        logger.info("serving %s as gemini_gan", self.bundle)
        return {"gemini_gan": task}
