"""Calibration of the deep ensemble's spread.

Members trained side by side on the same data agree more with each other than with the labels:
the raw spread under-states the error. :func:`fit_std_scale` finds the factor ``c`` for which
``|error| <= c * spread`` holds for 68.3 % of a held-out split (the one-sigma coverage of a
Gaussian); :func:`calibrate_bundle` stores it in a bundle (``extras["std_scale"]``), and the
predictor reports ``c * spread`` as ``std``. Scaling does not change how candidates rank.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genms.energy.predictor import load_predictor
from genms.io import atomic_write_json

ONE_SIGMA = 0.6826894921370859
#: fewest held-out predictions the scale is fitted on
MIN_CALIBRATION = 10


def coverage(err: np.ndarray, std: np.ndarray) -> dict:
    z = np.abs(err) / np.maximum(std, 1e-9)
    return {"within_1std": float(np.mean(z <= 1.0)), "within_2std": float(np.mean(z <= 2.0))}


def fit_std_scale(err: np.ndarray, raw_std: np.ndarray) -> float:
    """Factor that gives one-sigma coverage on ``err`` (a held-out split)."""
    err, raw_std = np.asarray(err, np.float64), np.asarray(raw_std, np.float64)
    ok = np.isfinite(err) & np.isfinite(raw_std) & (raw_std > 0)
    if ok.sum() < MIN_CALIBRATION:
        raise ValueError(
            f"need at least {MIN_CALIBRATION} held-out predictions with a positive spread to fit "
            "the scale"
        )
    return float(np.quantile(np.abs(err[ok]) / raw_std[ok], ONE_SIGMA))


def calibrate_bundle(bundle: str | Path, arrays, target: str, split_name: str = "val") -> dict:
    """Fit the spread scale of the ensemble bundle at ``bundle`` on ``arrays`` and save it."""
    bundle = Path(bundle)
    predictor = load_predictor(bundle)
    if predictor.extras.get("ensemble_size", 1) < 2:
        raise ValueError(f"{bundle} holds a single model: there is no spread to calibrate")
    predictor.std_scale = 1.0
    pred = predictor.predict_arrays(arrays)
    err = pred.e_form - np.asarray(arrays.targets[target], np.float64)
    scale = fit_std_scale(err, pred.std)
    info = {"std_scale": scale, "fitted_on": split_name, "n": int(len(err)),
            "raw": coverage(err, pred.std), "calibrated": coverage(err, scale * pred.std)}
    meta_path = bundle / "bundle.json"
    meta = json.loads(meta_path.read_text())
    meta["std_scale"] = scale
    meta["std_calibration"] = info
    atomic_write_json(meta_path, meta)
    return info
