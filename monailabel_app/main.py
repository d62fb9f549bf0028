"""MONAI Label app serving this repository's Gemini-GAN bundle (the ``monaibundle``-style app, reduced to it).

Start it (in the MONAI Label environment, ``make test-monailabel`` builds it)::

    .venv-monailabel/bin/python -m monailabel.main start_server --app monailabel_app --studies /path/to/studies \\
        --host 127.0.0.1 --port 8000

then, in 3D Slicer's MONAI Label module, connect to ``http://127.0.0.1:8000``, pick a study and run
``gemini_gan``. The model is the bundle's own ``configs/inference.json`` with ``models/model.pt``, wrapped in MONAI
Label's ``BundleInferTask``: the label map (1 LV blood pool, 2 LV myocardium, 3 RV) comes back on the HR grid over
the study's field of view, in world coordinates, so it overlays the study in the viewer.

**Training** (``/train/gemini_gan``, Slicer's "Train" button) means: fine-tuning the segmentation on the studies that
have a saved label map (``labels/final``), with ``configs/train.json`` + ``configs/finetune_real.json``. A study's
label map may be on the study's own grid (labels drawn on the stack) or on any grid over it (the HR output,
corrected): the loss compares the network's HR prediction with it in world coordinates, on its slices. Synthetic
batches are mixed in, so the SR decoder stays trained. Every class of a saved label map is taken as drawn on every
slice (a slice left empty teaches "no heart here"). The best weights (Dice of the validation studies on their own
grids) replace the served ``models/model.pt``; the served model reloads them at the next request.

Like MONAI Label's own bundle apps, the app serves **its copy** of the bundle, in ``<model_dir>/gemini_gan_bundle``
(made at the first start from ``--conf bundle``), so training never writes into the source bundle. The copy is kept
across restarts (it holds the fine-tuned weights): delete it to serve the source bundle's current weights.

``--conf`` pairs: ``bundle`` (source bundle folder; default this repository's ``gemini_gan_bundle``), ``model_dir``
(default ``monailabel_app/model``), ``synthetic_subjects`` (synthetic subjects generated for the mixed batches;
default the bundle's 30).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from monai.bundle import ConfigParser
from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleConstants, BundleTrainTask

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
#: Folders of a bundle that are outputs, not part of it (not copied into the served copy).
_OUTPUTS = ("data", "runs", "eval", "__pycache__")


#: The fine-tuning override MONAI Label training layers on ``train.json``.
FINETUNE_CONFIG = "finetune_real.json"


class FineTuneConstants(BundleConstants):
    """MONAI Label's bundle keys, with the fine-tuning config layered on ``train.json``."""

    def configs(self):
        """The configs MONAI Label looks for; the first found is ``train.json`` (``finetune_real.json`` goes on it)."""
        return ["train.json"]


class FineTuneTrainTask(BundleTrainTask):
    """MONAI Label training = fine-tuning on the labelled studies (``train.json`` + ``finetune_real.json``).

    Args:
        path: the served bundle folder.
        conf: the app's ``--conf`` pairs (``synthetic_subjects``).
    """

    def __init__(self, path: str, conf: dict[str, str]):
        super().__init__(path, conf, const=FineTuneConstants())
        if self.valid:
            self.bundle_config_path = [self.bundle_config_path, os.path.join(path, "configs", FINETUNE_CONFIG)]

    def _load_bundle_config(self, path, config):
        parser = ConfigParser()
        parser.read_config([config, os.path.join(path, "configs", FINETUNE_CONFIG)])
        parser.config.update({self.const.key_bundle_root(): path})  # type: ignore[union-attr]
        return parser

    def _partition_datalist(self, datalist, request, shuffle=False):
        train, val = super()._partition_datalist(datalist, request, shuffle)
        if not train:
            raise ValueError("no labelled study to train on: save a label map for at least one study first")
        if not val:
            logger.warning("no study left for validation: validating on the %d training studies", len(train))
            val = list(train)
        return train, val

    def _update_overrides(self, overrides):
        models = os.path.join(self.bundle_path, "models")
        overrides.update(
            ckpt_dir=models,  # the best weights replace the served model.pt
            output_dir=os.path.join(self.bundle_path, "runs", "monailabel"),
            pretrained_path=None,  # MONAI Label's own loader starts from models/model.pt when "pretrained"
            num_workers=0,
        )
        if "synthetic_subjects" in self.conf:
            overrides["synthetic_subjects"] = int(self.conf["synthetic_subjects"])
        return overrides


class GeminiGanApp(MONAILabelApp):
    """One model: ``gemini_gan`` (joint super-resolution + segmentation of short-axis stacks), inference and training.

    Args:
        app_dir: this folder.
        studies: the studies folder (NIfTI stacks; MONAI Label's local datastore).
        conf: ``--conf`` pairs (see the module docstring).
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]):
        source = Path(conf.get("bundle", REPO / "gemini_gan_bundle")).resolve()
        model_dir = Path(conf.get("model_dir", Path(app_dir) / "model")).resolve()
        self.bundle = str(model_dir / source.name)
        if not Path(self.bundle).is_dir():
            logger.info("copying %s to %s (the served copy: training writes there)", source, self.bundle)
            shutil.copytree(source, self.bundle, ignore=shutil.ignore_patterns(*_OUTPUTS))
        else:
            logger.info("serving the existing copy %s (delete it to serve %s afresh)", self.bundle, source)
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

    def init_trainers(self) -> dict:
        """Fine-tuning on the labelled studies (see the module docstring)."""
        task = FineTuneTrainTask(self.bundle, self.conf)
        return {"gemini_gan": task} if task.is_valid() else {}
