"""train_randomised.json: training through ``monai.bundle`` on samples synthesised anew every epoch from the tissue
maps, validated on the fixed pre-rendered cases."""

from __future__ import annotations

import pytest
from conftest import GEMINI_CONFIGS, tiny_overrides
from ignite.engine import Events
from monai.bundle import ConfigWorkflow

CONFIGS = [str(GEMINI_CONFIGS / "train.json"), str(GEMINI_CONFIGS / "train_randomised.json")]


@pytest.mark.slow
def test_every_epoch_sees_new_images_and_validation_stays_fixed(tiny_dataset, tmp_path):
    wf = ConfigWorkflow(
        config_file=CONFIGS,
        meta_file=str(GEMINI_CONFIGS / "metadata.json"),
        logging_file=False,
        workflow_type=None,
        max_epochs=2,
        val_interval=1,
        synthesis_ranges={"slice_thickness": [6.0, 8.0]},
        **tiny_overrides(tiny_dataset, tmp_path),
    )
    wf.initialize()
    trainer = wf.parser.get_parsed_content("train#trainer")
    seen: dict[int, list] = {1: [], 2: []}

    def record(engine):
        out = engine.state.output
        seen[engine.state.epoch].append((float(out["image"].sum()), float(out["hr_image"].sum())))

    trainer.add_event_handler(Events.ITERATION_COMPLETED, record)
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    inputs = []
    evaluator.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: inputs.append(float(e.state.output[0]["image"].sum()))
    )
    wf.run()
    wf.finalize()
    assert len(seen[1]) == len(seen[2]) == 2  # ED and ES of the training subject
    assert not set(seen[1]) & set(seen[2])  # new contrasts and acquisitions every epoch
    assert len(inputs) == 4 and sorted(inputs[:2]) == sorted(inputs[2:])  # the same validation cases twice
    thickness = wf.parser.get_parsed_content("synthesis#transforms")[2].ranges.slice_thickness
    assert thickness == (6.0, 8.0)
