"""``physionet``: the papers' latent ODE on PhysioNet/CinC Challenge 2012 ICU series.

Read from the challenge's own per-patient files in ``[params.task.physionet] data_dir``
(``set-a/<RecordID>.txt`` ...; :mod:`ndebench.data.physionet`), never downloaded; a missing
directory or set makes the cell ``unsupported`` with what to put where.

Preprocessing as the reference code of arXiv 1907.03907 (``physionet.py`` and the run script):
the 37 variables, times quantized to ``quantization`` hours (0.1), the sets pooled (set-a and
set-b by default) and split 80/20 at random (scikit-learn's ``train_test_split`` with
``random_state=42``, independent of the cell's seed); per-variable normalization with
statistics of the training split only. Times are divided by the largest time of the loaded
patients (the reference divides each batch's union by its own maximum, which would make a
series' time axis depend on its batch). ``max_patients`` (0: all) cuts the data for CPU runs;
every series is padded to the longest, so batches have one shape. The test metric is the
reconstruction MSE of the test patients' observed entries (the reference's interpolation
setting; ``holdout`` > 0 instead hides that fraction from the encoder and scores only it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ndebench.data.physionet import PHYSIONET_SETS
from ndebench.models import ModelSpec
from ndebench.params import Choice, Float, Int, ListOf, PathStr
from ndebench.tasks.base import TaskData
from ndebench.tasks.series import (
    SERIES_DEFAULTS,
    SERIES_TYPES,
    AbstractSeriesTask,
    series_batch,
    series_model,
)

#: the per-variable normalizations of :func:`ndebench.data.normalize`
NORMALIZATIONS = ("rubanova", "minmax")


class Physionet(AbstractSeriesTask):
    name: ClassVar[str] = "physionet"
    description: ClassVar[str] = (
        "PhysioNet 2012 ICU series (challenge files from data_dir), 37 variables: GRU encoder, "
        "latent tanh-MLP ODE, linear decoder; Gaussian ELBO, reconstruction MSE"
    )
    defaults: ClassVar[dict[str, Any]] = {
        **SERIES_DEFAULTS,
        "data_dir": "",
        "sets": ["set-a", "set-b"],
        "quantization": 0.1,
        "max_patients": 0,
        "normalization": "rubanova",
        "holdout": 0.0,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **SERIES_TYPES,
        "data_dir": PathStr(),
        "sets": ListOf(Choice(PHYSIONET_SETS), min_len=1, unique=True),
        # hours; the challenge's records span 48 hours
        "quantization": Float(lo=0.0, hi=48.0, lo_open=True),
        "max_patients": Int(lo=0, hi=10**6),
        "normalization": Choice(NORMALIZATIONS),
        "holdout": Float(lo=0.0, hi=1.0, hi_open=True),
    }

    def unavailable(self) -> str | None:
        data_dir = str(self.params["data_dir"])
        key = "[params.task.physionet] data_dir"
        sets = [str(s) for s in self.params["sets"]]
        wanted = ", ".join(f"{s}/" for s in sets)
        if not data_dir:
            return (
                f"task physionet: set {key} to a directory holding {wanted} (the challenge's "
                "<RecordID>.txt files; never downloaded)"
            )
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            return f"task physionet: {key} = {str(root)!r} is not a directory; put {wanted} there"
        empty = [f"{s}/" for s in sets if not any((root / s).glob("*.txt"))]
        if empty:
            return (
                f"task physionet: put {', '.join(empty)} (<RecordID>.txt files) in {root} ({key})"
            )
        return None

    def model(self) -> ModelSpec:
        from ndebench.data.physionet import N_VARIABLES

        return series_model(N_VARIABLES, self.params)

    def data(self, seed: int) -> TaskData:
        from sklearn.model_selection import train_test_split

        from ndebench.data import load_physionet, normalize, to_padded

        p = self.params
        q = p["quantization"]
        records = load_physionet(
            str(Path(str(p["data_dir"])).expanduser()),
            sets=tuple(str(s) for s in p["sets"]),
            quantization=None if q is None else float(q),
            max_patients=int(p["max_patients"]) or None,
        )
        if len(records) < 2:
            raise ValueError(f"task physionet: {len(records)} patients with data; need >= 2")
        train_idx, test_idx = train_test_split(
            np.arange(len(records)), train_size=0.8, random_state=42, shuffle=True
        )
        records = normalize(records, train_idx, p["normalization"])
        width = max(len(t) for t in records.times)
        scale = max(float(t[-1]) for t in records.times) or 1.0

        def padded(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            s = to_padded(records, idx)
            extra = width - s.times.shape[1]
            times = np.pad(s.times, ((0, 0), (0, extra)), mode="edge") / scale
            values = np.pad(s.values, ((0, 0), (0, extra), (0, 0)))
            return times, values, np.pad(s.mask, ((0, 0), (0, extra), (0, 0)))

        tt, vt, mt = padded(train_idx)
        ts, vs, ms = padded(test_idx)
        rng = np.random.default_rng([20_120, 42])
        held = (rng.uniform(size=ms.shape) < float(p["holdout"])) * ms
        return TaskData(
            train=series_batch(tt, vt, mt, mt),
            test=series_batch(ts, vs, ms - held, held if float(p["holdout"]) > 0 else ms),
        )
