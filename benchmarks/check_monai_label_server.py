"""A real MONAI Label server serving the Gemini-GAN bundle, checked over HTTP, then stopped.

Starts ``monailabel start_server`` with ``monailabel_app/`` on 127.0.0.1 (a free port) and a studies folder of two
generated stacks (and one real Sunnybrook stack, CC0, when ``../shared/data`` is present), then:

- ``GET /info/``: the model ``gemini_gan`` is listed with its labels;
- ``POST /infer/gemini_gan?image=<study>&output=image`` on every study: a label map with values in 0-3, on the HR
  grid over the study (the reference space the viewer overlays it in: shape and affine), agreeing with the truth of
  the generated stacks (Dice);
- a bad upload (a text file, a 2D image) gets an error response and the server still answers;
- ``POST /train/gemini_gan?run_sync=true`` (one epoch, 25 iterations): fine-tuning the slice segmenter
  (``train_slices.json``) on the two generated studies, whose label maps (on the studies' own grids) are saved in
  ``labels/final``, one for training, one for validation; the served copy's ``models/model.pt`` is replaced, the
  repository's bundle is untouched, and ``/infer`` afterwards answers with the new weights (reloaded) and still
  finds the heart;
- the server is stopped (its process group), within a bounded time.

Needs the MONAI Label environment (``make test-monailabel`` builds it and runs this script).

Usage::

    .venv-monailabel/bin/python benchmarks/check_monai_label_server.py --out benchmarks/results/monai_label_server.md
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nibabel as nib
import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL_STACK = REPO.parent / "shared" / "data" / "real_labelled" / "sunnybrook" / "SCD0000101_ED_image.nii.gz"
START_TIMEOUT_S = 300
TRAIN_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 600):
    """``(status, body bytes)`` of an HTTP request (error statuses are returned, not raised)."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def main(out: str = "benchmarks/results/monai_label_server.md", seed: int = 2028) -> None:
    """Run the check and write a markdown record; exits non-zero when a check fails."""
    import monailabel

    from custom_networks.core import dice, hr_grid_for, resample_to_grid
    from custom_networks.core.nifti import file_sha256
    from custom_networks.data import synthesize_dataset

    checks: dict[str, bool] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = synthesize_dataset(tmp / "data", subjects=2, seed=seed, progress=False)
        studies = tmp / "studies"
        (studies / "labels" / "final").mkdir(parents=True)
        truth = {}
        for i in range(2):
            name = f"generated_{i}"
            shutil.copy(dataset / f"sub-{i:04d}" / "ED" / "lr_image.nii.gz", studies / f"{name}.nii.gz")
            shutil.copy(
                dataset / f"sub-{i:04d}" / "ED" / "lr_label.nii.gz", studies / "labels" / "final" / f"{name}.nii.gz"
            )
            truth[name] = dataset / f"sub-{i:04d}" / "ED" / "hr_label.nii.gz"
        shipped = REPO / "gemini_gan_bundle" / "models" / "model.pt"
        shipped_sha = file_sha256(shipped)
        served = tmp / "model" / "gemini_gan_bundle" / "models" / "model.pt"
        if REAL_STACK.is_file():
            shutil.copy(REAL_STACK, studies / "sunnybrook_SCD0000101_ED.nii.gz")  # a temporary copy, never committed
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = tmp / "server.log"
        cmd = [sys.executable, "-m", "monailabel.main", "start_server", "--app", str(REPO / "monailabel_app"),
               "--studies", str(studies), "--host", "127.0.0.1", "--port", str(port),
               "--conf", "model_dir", str(tmp / "model")]  # fmt: skip
        env = {**os.environ, "MONAI_LABEL_TASKS_TRAIN": "true", "MONAI_LABEL_TASKS_STRATEGY": "false",
               "MONAI_LABEL_TASKS_SCORING": "false", "MONAI_LABEL_TASKS_BATCH_INFER": "false"}  # fmt: skip
        with open(log_path, "w") as log:
            server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        start = time.perf_counter()
        try:
            info = None
            while time.perf_counter() - start < START_TIMEOUT_S:
                if server.poll() is not None:
                    break
                try:
                    status, body = _request(f"{base}/info/", timeout=5)
                    if status == 200:
                        info = json.loads(body)
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(1)
            started = time.perf_counter() - start
            checks["server starts and answers /info/"] = info is not None
            if info is None:
                raise RuntimeError("server did not start:\n" + log_path.read_text()[-4000:])
            model = info.get("models", {}).get("gemini_gan", {})
            checks["/info/ lists gemini_gan"] = bool(model)
            labels = model.get("labels", {})
            checks["its labels: LV blood pool 1, LV myocardium 2, RV 3"] = labels == {
                "lv blood pool": 1, "lv myocardium": 2, "rv": 3
            }  # fmt: skip
            status, body = _request(f"{base}/datastore/?output=all")
            ids = sorted(json.loads(body).get("objects", {})) if status == 200 else []
            checks["datastore lists the studies"] = len(ids) == len(list(studies.glob("*.nii.gz")))
            seconds = {}

            def infer(study: str, when: str = "") -> bool:
                t0 = time.perf_counter()
                status, body = _request(f"{base}/infer/gemini_gan?image={study}&output=image", data=b"")
                seconds[study + when] = time.perf_counter() - t0
                if status != 200:
                    return False
                result = tmp / f"{study}{when}_seg.nii.gz"
                result.write_bytes(body)
                seg = nib.load(result)
                labels_arr = np.rint(np.asarray(seg.dataobj)).astype(np.uint8)
                src = nib.load(studies / f"{study}.nii.gz")
                hr_shape, hr_affine, _ = hr_grid_for(src.shape, src.affine)
                ok = labels_arr.ndim == 3 and set(np.unique(labels_arr)) <= {0, 1, 2, 3}
                ok = ok and tuple(labels_arr.shape) == tuple(hr_shape)
                ok = ok and float(np.abs(seg.affine - hr_affine).max()) < 1e-3
                if study in truth:
                    ref = nib.load(truth[study])
                    ref_on = resample_to_grid(np.asarray(ref.dataobj).astype(np.uint8), ref.affine,
                                              labels_arr.shape, seg.affine, order=0, mode="constant")  # fmt: skip
                    d = [dice(labels_arr == c, ref_on == c) for c in (1, 2, 3)]
                    notes.append(f"{study}{when}: Dice LV / myo / RV {d[0]:.3f} / {d[1]:.3f} / {d[2]:.3f}")
                    ok = ok and d[0] > 0.8
                else:
                    notes.append(f"{study}{when}: label values {sorted(np.unique(labels_arr).tolist())} (real stack)")
                return ok

            for study in ids:
                checks[f"/infer on {study}: label map on the HR grid over the study (world coordinates)"] = infer(study)
            body, headers = _multipart("file", "notes.nii.gz", b"this is not an image")
            status, _ = _request(f"{base}/infer/gemini_gan", data=body, headers=headers)
            checks["a text file upload gets an error response"] = status >= 400
            flat = nib.Nifti1Image(np.random.default_rng(0).random((64, 64, 1)).astype(np.float32), np.eye(4))
            nib.save(flat, tmp / "flat.nii.gz")
            body, headers = _multipart("file", "flat.nii.gz", (tmp / "flat.nii.gz").read_bytes())
            status, _ = _request(f"{base}/infer/gemini_gan", data=body, headers=headers)
            checks["a 2D image upload gets an error response"] = status >= 400
            status, _ = _request(f"{base}/info/", timeout=30)
            checks["the server still answers after the bad uploads"] = status == 200
            before = served.stat().st_mtime_ns if served.is_file() else None
            request = {"max_epochs": 1, "val_split": 0.5, "device": "cpu", "multi_gpu": False, "pretrained": True}
            t0 = time.perf_counter()
            status, body = _request(f"{base}/train/gemini_gan?run_sync=true", data=json.dumps(request).encode(),
                                    headers={"Content-Type": "application/json"}, timeout=TRAIN_TIMEOUT_S)  # fmt: skip
            train_s = time.perf_counter() - t0
            log_text = log_path.read_text(errors="replace")
            checks["/train/gemini_gan (1 epoch on the labelled studies) succeeds"] = (
                status == 200 and "Training Finished" in log_text
            )
            checks["training replaced the served copy's model.pt"] = (
                served.is_file() and before is not None and served.stat().st_mtime_ns != before
            )
            checks["the repository's bundle weights are untouched"] = file_sha256(shipped) == shipped_sha
            dices = [
                line.split("Metrics -- ")[1].strip() for line in log_text.splitlines() if "Metrics -- val_dice" in line
            ]
            notes.append(f"/train: {train_s:.0f} s; validation (study grid): {dices[-1] if dices else 'none logged'}")
            checks["/infer after training uses the new weights and finds the heart"] = infer(
                "generated_0", " after training"
            ) and "Reload model" in log_path.read_text(errors="replace")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        checks["the server stops"] = server.poll() is not None
    lines = [
        "# MONAI Label server check",
        "",
        f"Made by: `make test-monailabel` (`.venv-monailabel/bin/python benchmarks/check_monai_label_server.py --out "
        f"{out}`)",
        "",
        f"MONAI Label {monailabel.__version__}; `monailabel start_server --app monailabel_app` on 127.0.0.1, studies: "
        f"2 generated stacks (seed {seed}){' and 1 real Sunnybrook stack (CC0)' if REAL_STACK.is_file() else ''}. "
        f"Server up in {started:.0f} s; inference {', '.join(f'{s:.1f}' for s in seconds.values())} s per request "
        "(CPU).",
        "",
        "| check | result |",
        "| --- | --- |",
        *[f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in checks.items()],
        "",
        *[f"- {n}" for n in notes],
        "",
        "`/train` is fine-tuning the slice segmenter (`models/model.pt`) on the studies with a saved label map "
        "(`train_slices.json`; one epoch = 25 iterations of 12 slices).",
    ]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    import fire

    fire.Fire(main)
