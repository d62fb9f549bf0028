"""Command line of the alignment block (python-fire): ``python -m custom_networks.registration align ...``.

Exit status: 0 success, 2 unusable input (the message names the file), 3 registration did not converge (strict).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from custom_networks.core.cli import stop_on_sigterm
from custom_networks.core.errors import InputError
from custom_networks.core.nifti import check_output_folder
from custom_networks.registration.rigid import RegistrationError, align_pair, transform_json_path

__all__ = ["RegistrationCLI", "main"]


class RegistrationCLI:
    """Rigid alignment of a source (moving) subject to a target (fixed) subject."""

    def align(
        self,
        fixed: str,
        moving: str,
        out: str,
        fixed_label: str | None = None,
        moving_label: str | None = None,
        moving_label_out: str | None = None,
        refine: bool = True,
        strict: bool = True,
        overwrite: bool = False,
        **options,
    ) -> str:
        """Register MOVING to FIXED and write MOVING resampled on FIXED's grid, plus ``<out>_transform.json``.

        Args:
            fixed: fixed (target) image, NIfTI.
            moving: moving (source) image, NIfTI.
            out: aligned moving image to write (``.nii.gz``).
            fixed_label: fixed label map (0 bg, 1 LV, 2 myocardium, 3 RV): landmarks and metric heart region.
            moving_label: moving label map; with ``--fixed_label``, landmarks initialise the registration.
            moving_label_out: also write the moving label map on the fixed grid here.
            refine: refine by intensity (``--norefine``: landmarks only).
            strict: fail (exit 3, nothing written) when the registration does not converge (``--nostrict``).
            overwrite: replace existing output files (``--overwrite True``); otherwise they are refused (exit 2)
                before the registration.
            **options: further options of ``register_rigid`` (``--iterations``, ``--shrink_factors``, ...).
        """
        for path in (out, moving_label_out):
            if path is not None:
                check_output_folder(Path(str(path)).absolute().parent)  # before the registration, not after it
        result = align_pair(
            fixed,
            moving,
            out,
            fixed_label=fixed_label,
            moving_label=moving_label,
            moving_label_out=moving_label_out,
            strict=strict,
            refine=refine,
            overwrite=overwrite,
            **options,
        )
        written = [str(out), str(transform_json_path(out))] + ([str(moving_label_out)] if moving_label_out else [])
        return (
            f"{result.method}: rotation {np.round(result.rotation_deg, 2).tolist()} deg, translation "
            f"{np.round(result.translation_mm, 2).tolist()} mm, converged={result.converged}, "
            f"{result.seconds:.1f} s\nwrote {', '.join(written)}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors and non-convergence print one clear line (exit 2 and 3).

    Args:
        argv: arguments (default: ``sys.argv[1:]``).
    """
    import fire

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stop_on_sigterm()
    try:
        fire.Fire(RegistrationCLI, command=argv, name="python -m custom_networks.registration")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RegistrationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
