"""Alignment block of V-AMA: rigid registration of a source subject to a target subject, in world coordinates.

The original method paired each source subject with a target subject by a landmark-based rigid registration
(IRTK/MIRTK) whose landmarks are the centroids of the LV myocardium and the RV at the lowest, middle and highest
slice of the heart. Here the same landmarks initialise a least-squares rigid fit, refined by ITK's v4 registration
(Mattes mutual information, multi-resolution, versor rigid transform) with a convergence check; no MIRTK.

* :func:`label_landmarks`: the six landmarks of a label map, world millimetres (RAS).
* :func:`register_rigid`: arrays + affines -> :class:`RigidResult` (``matrix`` maps fixed/target world points to
  moving/source world points, RAS mm).
* :func:`resample_moving`: the moving image or label map on the fixed grid through a result.
* :func:`register_labels_deformable`: label-driven deformable refinement (diffeomorphic demons) of a rigidly
  aligned pair of different subjects, used to build V-AMA's training pairs.
* :func:`align_pair`: files in, the aligned moving image (+ label map) and a transform JSON out;
  command line ``python -m custom_networks.registration align --fixed F --moving M --out O``.
"""

from __future__ import annotations

from custom_networks.core.lazy_exports import lazy_exports

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS = {
    "DeformableResult": "deformable",
    "LANDMARK_NAMES": "landmarks",
    "LandmarkSet": "landmarks",
    "RegistrationError": "rigid",
    "RigidResult": "rigid",
    "align_pair": "rigid",
    "euler_angles_deg": "rigid",
    "fit_rigid_points": "rigid",
    "label_dice": "deformable",
    "label_landmarks": "landmarks",
    "landmark_slice_axis": "landmarks",
    "register_labels_deformable": "deformable",
    "register_rigid": "rigid",
    "resample_moving": "rigid",
    "transform_json_path": "rigid",
}
__all__ = [*_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
