"""MONAI Label app serving this repository's Gemini-GAN bundle (the ``monaibundle``-style app, reduced to it).

Start it (in the MONAI Label environment, ``make test-monailabel`` builds it)::

    .venv-monailabel/bin/python -m monailabel.main start_server --app monailabel_app --studies /path/to/studies \\
        --host 127.0.0.1 --port 8000

then, in 3D Slicer's MONAI Label module, connect to ``http://127.0.0.1:8000``, pick a study and run
``gemini_gan``. The model is the bundle's own ``configs/inference.json`` with ``models/model.pt``, wrapped in MONAI
Label's ``BundleInferTask``: the label map (1 LV blood pool, 2 LV myocardium, 3 RV) comes back on the HR grid over
the study's field of view, in world coordinates, so it overlays the study in the viewer.

**Training** (``/train/gemini_gan``, Slicer's "Train" button) means: fine-tuning the slice segmenter (the served
``models/model.pt``) on the studies that have a saved label map (``labels/final``), with
``configs/train_slices.json``. A study's label map may be on the study's own grid (labels drawn on the stack) or on
any grid over it (the HR output, corrected): it is brought onto the study's grid in world coordinates. Every class
of a saved label map is taken as drawn on every slice (a slice left empty teaches "no heart here"). One "epoch" is
``epoch_length`` (25) iterations of 12 slices. The final weights replace the served ``models/model.pt`` (with their
training record, ``models/model.json``); the served model reloads them at the next request.

Like MONAI Label's own bundle apps, the app serves **its copy** of the bundle, in ``<model_dir>/gemini_gan_bundle``
(made at the first start from ``--conf bundle``), so training never writes into the source bundle. The copy is kept
across restarts (it holds the fine-tuned weights): delete it to serve the source bundle's current weights.

``--conf`` pairs: ``bundle`` (source bundle folder; default this repository's ``gemini_gan_bundle``), ``model_dir``
(default ``monailabel_app/model``), ``learning_rate`` (fine-tuning rate; default 5e-4).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from monailabel.interfaces.app import MONAILabelApp
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleConstants, BundleTrainTask

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
#: Folders of a bundle that are outputs, not part of it (not copied into the served copy).
_OUTPUTS = ("data", "runs", "eval", "__pycache__")


#: The training config MONAI Label runs: the slice segmenter's.
TRAIN_CONFIG = "train_slices.json"
#: Iterations per MONAI Label "epoch" (the UI's max_epochs counts these).
EPOCH_LENGTH = 25


class FineTuneConstants(BundleConstants):
    """MONAI Label's bundle keys, with the slice segmenter's training config."""

    def configs(self):
        """The training config MONAI Label looks for."""
        return [TRAIN_CONFIG]


class FineTuneTrainTask(BundleTrainTask):
    """MONAI Label training = fine-tuning the slice segmenter on the labelled studies (``train_slices.json``).

    Args:
        path: the served bundle folder.
        conf: the app's ``--conf`` pairs (``learning_rate``).
    """

    def __init__(self, path: str, conf: dict[str, str]):
        super().__init__(path, conf, const=FineTuneConstants())

    def _partition_datalist(self, datalist, request, shuffle=False):
        train, val = super()._partition_datalist(datalist, request, shuffle)
        if not train:
            raise ValueError("no labelled study to train on: save a label map for at least one study first")
        if not val:
            logger.warning("no study left for validation: validating on the %d training studies", len(train))
            val = list(train)
        return train, val

    def __call__(self, request, datastore):
        """Train; remembers whether the request starts from the served weights ("pretrained", default yes)."""
        self._pretrained = bool(request.get("pretrained", True))
        return super().__call__(request, datastore)

    def _update_overrides(self, overrides):
        epochs = int(overrides.get(self.const.key_train_trainer_max_epochs(), 1))
        served = os.path.join(self.bundle_path, "models", "model.pt")
        # the config's own loader (train#handlers) starts from pretrained_path: MONAI Label adds none of its own
        # when the config has one
        pretrained = served if getattr(self, "_pretrained", True) and os.path.isfile(served) else None
        overrides.update(
            pretrained_path=pretrained,
            final_ckpt=served,  # the final weights replace the served ones
            run_dir=os.path.join(self.bundle_path, "runs", "monailabel"),
            resume=False,
            epoch_length=EPOCH_LENGTH,
            iterations=epochs * EPOCH_LENGTH,
            warmup_iterations=0,
            learning_rate=float(self.conf.get("learning_rate", 5e-4)),
            val_interval=1,
            num_workers=0,
        )
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
