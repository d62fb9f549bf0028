"""A training run that can stop and go on later: one checkpoint to resume from, a curve, weight snapshots."""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from custom_networks.core.errors import InputError
from custom_networks.core.nifti import _atomic_file, write_text_atomic

__all__ = ["ResumableCheckpoint"]

logger = logging.getLogger(__name__)

CURVE_COLUMNS = ("iteration", "epoch", "loss", "lr", "cpu_s", "wall_s")


class ResumableCheckpoint:
    """Save ``<save_dir>/last.pt`` after every epoch and resume from it when a run starts.

    The checkpoint holds the objects of ``save_dict`` (network, optimiser, scheduler, trainer: the run continues at
    the same iteration and learning rate) and the CPU seconds the run has spent so far, in all its sessions, so
    that quality can be read against CPU time. After every epoch a row is appended to ``<save_dir>/curve.csv``
    (iteration, epoch, mean loss of the epoch, learning rate, CPU seconds, wall seconds), and every
    ``snapshot_every`` epochs the network's weights alone are copied to ``<save_dir>/snapshots/iter_<N>.pt`` to be
    scored afterwards. Files are written under a temporary name, then renamed.

    The hyper-parameters of the run being started win over the checkpoint's: the ``schedule_attributes`` of every
    saved object (a scheduler's ``t_total``, ``end_lr``, ``warmup_steps``, ``base_lrs``) keep their new values, so
    a run resumed with more ``iterations`` stretches its learning-rate schedule instead of restarting it. The epoch
    length must stay the same (an iteration count means nothing otherwise): another one is refused.

    Args:
        save_dir: the run's folder.
        save_dict: name -> object with ``state_dict`` / ``load_state_dict``; ``"model"`` is snapshotted.
        snapshot_every: epochs between snapshots (0: none).
        resume: resume from ``last.pt`` when it exists.
        schedule_attributes: attributes of the saved objects that the new run's configuration sets.
        final_path: where the network's final weights (a plain state dict, as a bundle's ``models/model.pt``) are
            written when the run completes (None: not written).
        record: what the run was trained on and how (JSON-serialisable), written beside the final weights as
            ``<final_path stem>.json`` with the iterations and CPU-hours the weights cost: the measured record that
            ships with them.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        save_dict: dict[str, Any],
        snapshot_every: int = 0,
        resume: bool = True,
        schedule_attributes: tuple[str, ...] = ("t_total", "end_lr", "warmup_steps", "base_lrs"),
        final_path: str | os.PathLike | None = None,
        record: dict[str, Any] | None = None,
    ):
        self.save_dir = Path(save_dir)
        self.save_dict = save_dict
        self.snapshot_every = int(snapshot_every)
        self.resume = bool(resume)
        self.schedule_attributes = tuple(schedule_attributes)
        self.final_path = None if final_path is None else Path(final_path)
        self.record = dict(record or {})
        self.cpu_before = 0.0
        self.wall_before = 0.0
        self._cpu0 = self._wall0 = 0.0
        self._losses: list[float] = []

    @property
    def last(self) -> Path:
        """The checkpoint a run resumes from."""
        return self.save_dir / "last.pt"

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer."""
        engine.add_event_handler(Events.STARTED, self.started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.epoch_completed)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def cpu_seconds(self) -> float:
        """CPU seconds of the run so far (this process's, every thread, plus earlier sessions')."""
        return self.cpu_before + time.process_time() - self._cpu0

    def started(self, engine: Engine) -> None:
        """Resume when a checkpoint exists."""
        self._cpu0, self._wall0 = time.process_time(), time.time()
        if self.resume and self.last.is_file():
            state = torch.load(self.last, map_location="cpu", weights_only=False)
            max_epochs = engine.state.max_epochs
            saved_length = state.get("trainer", {}).get("epoch_length")
            if saved_length is not None and saved_length != engine.state.epoch_length:
                raise InputError(
                    f"{self.last}: the run was started with epoch_length {saved_length}, not "
                    f"{engine.state.epoch_length}; resume it with --epoch_length {saved_length} (or --resume false)"
                )
            config = {
                name: {a: getattr(obj, a) for a in self.schedule_attributes if hasattr(obj, a)}
                for name, obj in self.save_dict.items()
            }
            Checkpoint.load_objects(to_load=self.save_dict, checkpoint=state)
            for name, attributes in config.items():
                for attribute, value in attributes.items():
                    setattr(self.save_dict[name], attribute, value)
            engine.state.max_epochs = max(max_epochs, engine.state.epoch)
            self.cpu_before = float(state.get("cpu_s", 0.0))
            self.wall_before = float(state.get("wall_s", 0.0))
            logger.info(
                "resuming %s at iteration %d (epoch %d of %d), %.1f CPU-minutes spent",
                self.last,
                engine.state.iteration,
                engine.state.epoch,
                engine.state.max_epochs,
                self.cpu_before / 60,
            )

    def iteration_completed(self, engine: Engine) -> None:
        """Keep the losses of the epoch."""
        output = engine.state.output
        loss = output[0]["loss"] if isinstance(output, list) else output["loss"]
        self._losses.append(float(loss))

    def epoch_completed(self, engine: Engine) -> None:
        """Save the checkpoint, a curve row and maybe a snapshot."""
        self.save_dir.mkdir(parents=True, exist_ok=True)
        cpu, wall = self.cpu_seconds(), self.wall_before + time.time() - self._wall0
        state = {name: obj.state_dict() for name, obj in self.save_dict.items()}
        state.update(cpu_s=cpu, wall_s=wall)
        with _atomic_file(self.last, suffix=".pt") as tmp:
            torch.save(state, tmp)
        optimizer = self.save_dict.get("optimizer")
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else float("nan")
        loss = sum(self._losses) / max(1, len(self._losses))
        self._losses = []
        curve = self.save_dir / "curve.csv"
        new = not curve.is_file()
        with open(curve, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(CURVE_COLUMNS)
            writer.writerow(
                [engine.state.iteration, engine.state.epoch, f"{loss:.5f}", f"{lr:.3g}", f"{cpu:.1f}", f"{wall:.1f}"]
            )
        if self.snapshot_every and engine.state.epoch % self.snapshot_every == 0 and "model" in self.save_dict:
            snapshot = self.save_dir / "snapshots" / f"iter_{engine.state.iteration:06d}.pt"
            with _atomic_file(snapshot, suffix=".pt") as tmp:
                torch.save({"model": state["model"], "cpu_s": cpu, "iteration": engine.state.iteration}, tmp)
        logger.info(
            "epoch %d: iteration %d, loss %.4f, %.1f CPU-minutes",
            engine.state.epoch,
            engine.state.iteration,
            loss,
            cpu / 60,
        )

    def completed(self, engine: Engine) -> None:
        """Write the final weights."""
        if self.final_path is None or "model" not in self.save_dict:
            return
        model = self.save_dict["model"]
        model = model.module if hasattr(model, "module") else model
        with _atomic_file(self.final_path, suffix=".pt") as tmp:
            torch.save(model.state_dict(), tmp)
        record = {
            **self.record,
            "weights": self.final_path.name,
            "iterations": int(engine.state.iteration),
            "cpu_hours": round(self.cpu_seconds() / 3600, 3),
            "wall_hours": round((self.wall_before + time.time() - self._wall0) / 3600, 3),
            "curve": str(self.save_dir / "curve.csv"),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        write_text_atomic(self.final_path.with_suffix(".json"), json.dumps(record, indent=1, default=str) + "\n")
        logger.info(
            "final weights (iteration %d, %.1f CPU-minutes) written to %s",
            engine.state.iteration,
            self.cpu_seconds() / 60,
            self.final_path,
        )
