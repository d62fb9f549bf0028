"""Assembly of per-frame network outputs into 4D NIfTI files, streamed frame by frame (memory of one frame)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
from monai.transforms import MapTransform
from tqdm.auto import tqdm

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import NiftiFrameWriter

__all__ = ["SaveCineFramed"]

logger = logging.getLogger(__name__)


def _scalar(value) -> float:
    """A scalar item value that collation may have turned into a 0-d tensor or a one-element list."""
    if isinstance(value, list | tuple):
        value = value[0]
    return float(value.item() if hasattr(value, "item") else value)


class SaveCineFramed(MapTransform):
    """Append each frame's outputs to ``<case>_<postfix>.nii.gz`` 4D files ``(X, Y, Z, T)``; put them in place when
    the cine's last frame arrives.

    Frames must come in order (a ``DataLoader`` without shuffling, as the 4D inference config builds it): an item
    out of order is an error. The files are written through :class:`~custom_networks.core.nifti.NiftiFrameWriter`:
    nothing appears under the final names before the last frame, and an interrupted run leaves no partial file. The
    geometry of every frame is that of its ``MetaTensor`` (the HR grid over the input's field of view), the time
    step that of the cine (``pixdim[4]``, ms; time unit "unknown" when the cine does not say it).

    Items carry (see :func:`~custom_networks.bundle.cine_inputs`) ``case``, ``frame_index``, ``num_frames`` and
    ``frame_interval_ms``.

    Args:
        keys: keys to write (``pred``: a label map ``(1, ...)`` after post-processing, or class logits; ``sr``).
        output_dir: output folder.
        postfixes: file postfix per key.
        label_keys: keys written as label maps (uint8, label intent).
        overwrite: replace existing outputs.
        progress: a progress bar over the frames of each cine.
        allow_missing_keys: skip absent keys.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable,
        output_dir: str,
        postfixes: Sequence[str],
        label_keys: Sequence[Hashable] = ("pred",),
        overwrite: bool = False,
        progress: bool = True,
        allow_missing_keys: bool = True,
    ):
        super().__init__(keys, allow_missing_keys)
        if len(postfixes) != len(self.keys):
            raise ValueError(f"one postfix per key is needed, got keys {self.keys} and postfixes {postfixes}")
        self.output_dir = Path(str(output_dir))
        self.postfixes = dict(zip(self.keys, postfixes, strict=True))
        self.label_keys = set(label_keys)
        self.overwrite = overwrite
        self.progress = progress
        self._writers: dict[tuple[str, Hashable], NiftiFrameWriter] = {}
        self._bars: dict[str, tqdm] = {}
        self._started: dict[str, float] = {}
        self.written: list[Path] = []

    def __call__(self, data: Mapping) -> dict:
        """Append one frame of one cine."""
        d = dict(data)
        case = d["case"][0] if isinstance(d["case"], list | tuple) else str(d["case"])
        t, frames = int(_scalar(d["frame_index"])), int(_scalar(d["num_frames"]))
        interval = _scalar(d.get("frame_interval_ms", math.nan))
        for key in self.key_iterator(d):
            img = d[key]
            array = np.asarray(img.detach().cpu().float())
            if key in self.label_keys:
                frame = np.rint(array[0]) if array.shape[0] == 1 else np.argmax(array, axis=0)
            else:
                frame = array[0]
            writer = self._writers.get((case, key))
            if writer is None:
                if t != 0:
                    raise ValueError(f"{case}: frame {t} arrived before frame 0 (frames must come in order)")
                writer = NiftiFrameWriter(
                    self.output_dir / f"{case}_{self.postfixes[key]}.nii.gz",
                    frame.shape,
                    frames,
                    np.asarray(img.affine, dtype=float),
                    label=key in self.label_keys,
                    time_step=None if math.isnan(interval) else interval,
                    overwrite=self.overwrite,
                )
                self._writers[(case, key)] = writer
            if writer.frames_written != t:
                raise ValueError(
                    f"{case}: frame {t} arrived after {writer.frames_written - 1} (frames must be in order)"
                )
            writer.write(frame)
        self._advance(case, t, frames)
        if t == frames - 1:
            self._finish(case)
        return d

    def _advance(self, case: str, t: int, frames: int) -> None:
        if t == 0:
            self._started[case] = time.perf_counter()
            self._bars[case] = tqdm(total=frames, desc=case, unit="frame", disable=not self.progress, leave=False)
        self._bars[case].update(1)

    def _finish(self, case: str) -> None:
        files = []
        for (name, key), writer in list(self._writers.items()):
            if name == case:
                files.append(writer.close())
                del self._writers[(name, key)]
        self.written += files
        self._bars.pop(case).close()
        elapsed = time.perf_counter() - self._started.pop(case)
        logger.info("%s: 4D outputs written in %.1f s: %s", case, elapsed, ", ".join(str(p) for p in files))

    def close(self) -> list[Path]:
        """End of the run: every cine must be complete (an incomplete one is removed and reported).

        Returns:
            The files written.

        Raises:
            InputError: a cine ended before its last frame (its outputs were not written).
        """
        incomplete = sorted({case for case, _ in self._writers})
        for writer in self._writers.values():
            writer.abort()
        self._writers.clear()
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        if incomplete:
            raise InputError(f"{', '.join(incomplete)}: the run ended before the last frame; no 4D output written")
        return list(self.written)
