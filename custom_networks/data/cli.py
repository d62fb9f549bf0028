"""Command line of the data engine (python-fire): ``python -m custom_networks.data {synth,cine,domains,preview}``."""

from __future__ import annotations

from custom_networks.core.cli import run_cli
from custom_networks.data.cine import synthesize_cine
from custom_networks.data.dataset import synthesize_dataset
from custom_networks.data.domains import list_domains
from custom_networks.data.preview import preview_dataset

__all__ = ["DataCLI", "main"]


class DataCLI:
    """Synthetic cardiac cine MR data engine."""

    #: ``synth OUT [--subjects N] [--domain NAME] [--seed S] ...``: see :func:`synthesize_dataset` for every option.
    synth = staticmethod(synthesize_dataset)
    #: ``cine OUT [--name sub-0000] [--frames 20] [--seed S] ...``: a whole cardiac cycle as a 4D cine, with its
    #: HR label maps and true volumes; see :func:`synthesize_cine`.
    cine = staticmethod(synthesize_cine)

    def domains(self) -> str:
        """List the appearance/acquisition presets with a one-line description each."""
        items = list_domains()
        width = max(len(n) for n in items)
        return "\n".join(f"{name:<{width}}  {desc}" for name, desc in items.items())

    def preview(self, dataset: str, out: str = "preview.png", case: str | None = None) -> str:
        """Write a PNG montage (HR / LR / LR-on-HR, short and long axis, label contours) of one subject.

        Args:
            dataset: dataset folder.
            out: PNG to write.
            case: subject name (default: the first one).
        """
        return f"preview written to {preview_dataset(dataset, out, case)}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2; SIGTERM leaves no partial dataset."""
    return run_cli(DataCLI, argv, name="python -m custom_networks.data")
