"""PhysioNet/CinC Challenge 2012 ICU time series, from the challenge's per-patient text files.

Layout: ``<data_dir>/set-a/<RecordID>.txt`` (likewise ``set-b``, ``set-c``), each file a header
``Time,Parameter,Value`` then rows such as ``00:00,RecordID,132539`` or ``00:07,HR,73``; time
is ``HH:MM`` since ICU admission (up to 48 h). The descriptors RecordID, Age, Gender, Height and
ICUType are given at 00:00 (value -1 = unknown); Weight is a descriptor and a time series.

Preprocessing follows the reference code of "Latent ODEs for Irregularly-Sampled Time Series"
(Rubanova, Chen, Duvenaud, arXiv:1907.03907; repository YuliaRubanova/latent_ode, file
``physionet.py``, class ``PhysioNet``), with these documented choices:

- Variables: the reference's ``params`` list holds 41 names: the four static descriptors Age,
  Gender, Height, ICUType followed by the 37 time-series variables of the challenge (Weight
  first, then Albumin ... WBC). The paper describes the data as 37 variables; here the static
  descriptors are not features (:data:`PHYSIONET_VARIABLES` is the 37, in the reference's
  order). A Weight of -1 (the challenge's "unknown") is treated as missing; the reference keeps
  it as a value.
- Time in hours, ``round((HH + MM / 60) / quantization) * quantization`` (the reference's
  float expression and Python's round, half to even; default 0.1 h = 6 min). Rows whose
  quantized times agree are merged into one time point, each variable's value the mean of
  its values there (the reference's ``reduce = "average"``; it merges consecutive rows,
  which is the same on the time-sorted challenge files; here rows are grouped whatever their
  order). ``quantization=None`` keeps the minutes. Time points with no observed variable are
  dropped (the reference's always has the static descriptors at 00:00), as are patients with
  no observation at all (their record ids are kept in ``PhysionetRecords.skipped``).
- Normalization (:func:`normalize`): per variable, over observed entries, the reference's
  ``(x - min) / max`` (``utils.normalize_masked_data``; a max of 0 divides by 1), with min and
  max from the training split only (the reference takes them over all patients, test
  included); unobserved entries stay 0. ``method="minmax"`` gives ``(x - min) / (max - min)``.
- Times are left in hours; the reference divides each batch's union of times by its maximum.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from ndebench.data.errors import DataFormatError, DataUnavailable, one_line
from ndebench.errors import InputError, did_you_mean

#: the 37 time-series variables, in the order of the reference's ``params`` list
PHYSIONET_VARIABLES: tuple[str, ...] = (
    "Weight", "Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine",
    "DiasABP", "FiO2", "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP",
    "MechVent", "Na", "NIDiasABP", "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets",
    "RespRate", "SaO2", "SysABP", "Temp", "TroponinI", "TroponinT", "Urine", "WBC",
)  # fmt: skip
#: general descriptors that are not time series (ignored, RecordID checked against the name)
STATIC_DESCRIPTORS: tuple[str, ...] = ("RecordID", "Age", "Gender", "Height", "ICUType")
PHYSIONET_SETS: tuple[str, ...] = ("set-a", "set-b", "set-c")
HEADER = "Time,Parameter,Value"
MISSING = -1.0
N_VARIABLES = len(PHYSIONET_VARIABLES)
_INDEX = {name: i for i, name in enumerate(PHYSIONET_VARIABLES)}
_WEIGHT = _INDEX["Weight"]


@dataclass(frozen=True)
class Normalization:
    """Per-variable ``(x - offset) / scale`` applied to observed entries."""

    offset: np.ndarray
    scale: np.ndarray
    method: str

    def apply(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask > 0, (values - self.offset) / self.scale, 0.0)


@dataclass(frozen=True)
class PhysionetRecords:
    """One entry per patient ``i``: ``times[i]`` float64 ``(T_i,)`` hours, strictly increasing;
    ``values[i]`` float64 ``(T_i, 37)``, 0 where unobserved; ``mask[i]`` float64 ``(T_i, 37)``,
    1 where observed; ``record_ids`` int64 ``(N,)``; ``sources[i]`` the set it came from."""

    record_ids: np.ndarray
    times: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    mask: tuple[np.ndarray, ...]
    sources: tuple[str, ...]
    variables: tuple[str, ...] = PHYSIONET_VARIABLES
    quantization: float | None = 0.1
    #: record ids of patients with no observed variable, left out
    skipped: tuple[int, ...] = ()
    #: set by :func:`normalize`; None = raw values
    normalization: Normalization | None = None

    def __len__(self) -> int:
        return len(self.times)


class PaddedSeries(NamedTuple):
    """A batch padded to its longest series: ``times`` ``(B, T)`` (padding repeats the series'
    last time, 0 for an empty one), ``values`` and ``mask`` ``(B, T, 37)`` (0 in the padding),
    ``lengths`` int64 ``(B,)``."""

    times: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray


#: the challenge's records cover the first 48 hours of an ICU stay; a later time is damage
#: (one such row would rescale every patient's time axis)
MAX_HOURS = 48


def _fail(path: Path, lineno: int, what: str) -> DataFormatError:
    return DataFormatError(f"{path}:{lineno}: {one_line(what)}")


def _short(line: str) -> str:
    return repr(line if len(line) <= 60 else line[:57] + "...")


def _clock(text: str) -> tuple[int, int] | None:
    """(hours, minutes) of ``HH:MM`` (hours may exceed 23), or None."""
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and hours.isascii() and minutes.isdigit()):
        return None
    if len(minutes) != 2 or not minutes.isascii() or int(minutes) >= 60:
        return None
    return int(hours), int(minutes)


def _read_lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not lines or lines[0].strip() != HEADER:
        first = _short(lines[0]) if lines else "an empty file"
        raise _fail(path, 1, f"expected the header {HEADER!r}, got {first}")
    return lines


def _descriptor(path: Path, lineno: int, name: str, value: float, stem_id: int | None) -> None:
    """Check a row whose parameter is not one of the 37 variables."""
    if name == "RecordID":
        if not value.is_integer() or (stem_id is not None and int(value) != stem_id):
            shown = int(value) if value.is_integer() else value
            raise _fail(path, lineno, f"RecordID {shown} does not match the file name {path.name}")
    elif name not in STATIC_DESCRIPTORS:
        hint = did_you_mean(name, PHYSIONET_VARIABLES + STATIC_DESCRIPTORS)
        raise _fail(
            path,
            lineno,
            f"unknown parameter {_short(name)}{hint}: expected one of the 37 variables "
            f"{', '.join(PHYSIONET_VARIABLES)} or a descriptor {', '.join(STATIC_DESCRIPTORS)}",
        )


def read_patient(
    path: str | Path, quantization: float | None = 0.1
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(record id, times ``(T,)``, values ``(T, 37)``, mask ``(T, 37)``) of one patient file.

    Raises :class:`DataFormatError` naming the file and line for a bad header, a row without
    exactly three fields, a time that is not ``HH:MM``, a value that is not a finite number,
    an unknown parameter, or a RecordID that disagrees with the file name."""
    path = Path(path)
    lines = _read_lines(path)
    stem_id = int(path.stem) if path.stem.isdigit() and path.stem.isascii() else None
    record_id = stem_id
    keys: dict[str, int] = {}  # time text -> quantized key
    slots: list[int] = []
    variables: list[int] = []
    observed: list[float] = []
    isfinite, index_of = math.isfinite, _INDEX.get  # hot loop: about 500 rows per file
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 3:
            if not line.strip():
                continue
            what = f"expected 3 fields {HEADER}, got {len(fields)}: {_short(line)}"
            raise _fail(path, lineno, what)
        time_text, name, value_text = fields
        key = keys.get(time_text)
        if key is None:
            clock = _clock(time_text.strip())
            if clock is None:
                raise _fail(path, lineno, f"time {_short(time_text.strip())} is not HH:MM")
            hours, minutes = clock
            if 60 * hours + minutes > 60 * MAX_HOURS:
                what = f"time {_short(time_text.strip())} is past {MAX_HOURS}:00"
                raise _fail(path, lineno, f"{what} (allowed: 00:00 to {MAX_HOURS}:00)")
            if quantization is None:
                key = 60 * hours + minutes
            else:  # the reference's float expression, so halves round the same way
                key = round((hours + minutes / 60.0) / quantization)
            keys[time_text] = key
        try:
            value = float(value_text)
        except ValueError:
            value = math.nan
        if not isfinite(value):
            what = (
                f"value {_short(value_text.strip())} of {_short(name.strip())[1:-1]} "
                "is not a finite number"
            )
            raise _fail(path, lineno, what)
        index = index_of(name)
        if index is None:
            name = name.strip()
            index = index_of(name)
            if index is None:
                _descriptor(path, lineno, name, value, stem_id)
                if name == "RecordID":
                    record_id = int(value)
                continue
        if index == _WEIGHT and value == MISSING:
            continue
        slots.append(key)
        variables.append(index)
        observed.append(value)
    if record_id is None:
        raise DataFormatError(f"{path}: no RecordID row and the file name is not a number")
    times, values, mask = _merge(slots, variables, observed)
    times = times / 60.0 if quantization is None else times * quantization
    return record_id, times, values, mask


def _merge(
    keys: list[int], variables: list[int], observed: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted distinct keys, per-key per-variable mean values, mask) of the observations."""
    unique, slot = np.unique(np.array(keys, dtype=np.float64), return_inverse=True)
    flat = slot.reshape(-1) * N_VARIABLES + np.array(variables, dtype=np.int64)
    size = len(unique) * N_VARIABLES
    sums = np.bincount(flat, weights=np.array(observed, dtype=np.float64), minlength=size)
    counts = np.bincount(flat, minlength=size).astype(np.float64)
    shape = (len(unique), N_VARIABLES)
    values = (sums / np.maximum(counts, 1.0)).reshape(shape)
    return unique, values, (counts > 0).astype(np.float64).reshape(shape)


def _patient_files(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if p.suffix == ".txt" and p.is_file()]
    return sorted(
        files, key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name)
    )


def _check_quantization(quantization: float | None) -> None:
    if quantization is None:
        return
    if isinstance(quantization, bool) or not isinstance(quantization, (int, float)):
        raise InputError(f"physionet quantization {quantization!r}: must be a number of hours")
    if not (math.isfinite(quantization) and quantization > 0):
        raise InputError(f"physionet quantization {quantization!r}: must be positive hours")


def load_physionet(
    data_dir: str | Path,
    sets: Sequence[str] = ("set-a",),
    quantization: float | None = 0.1,
    max_patients: int | None = None,
) -> PhysionetRecords:
    """The patients of ``sets`` (subdirectories of ``data_dir``), in set order then by RecordID.

    ``max_patients`` stops after that many patients with observations. Raises
    :class:`DataUnavailable` naming the directories to create for a missing ``data_dir``, a
    missing set or a set without ``.txt`` files, and :class:`DataFormatError` (file and line)
    for a malformed file."""
    _check_quantization(quantization)
    if isinstance(sets, str) or not sets or not all(isinstance(s, str) and s for s in sets):
        raise InputError(f"physionet sets {sets!r}: must be a non-empty list such as ['set-a']")
    if max_patients is not None and (isinstance(max_patients, bool) or max_patients < 1):
        raise InputError(f"physionet max_patients {max_patients!r}: must be a positive integer")
    data_dir = Path(data_dir)
    wanted = ", ".join(f"{s}/" for s in sets)
    advice = (
        "(data_dir of [params.task.physionet]): the PhysioNet/CinC Challenge 2012 directories "
        "of <RecordID>.txt files, unpacked from set-a.tar.gz etc.; ndebench never downloads data"
    )
    if not data_dir.is_dir():
        raise DataUnavailable(
            f"physionet: data directory {data_dir} does not exist: put {wanted} in it {advice}"
        )
    listing = {s: _patient_files(data_dir / s) if (data_dir / s).is_dir() else [] for s in sets}
    missing = [f"{s}/" for s, files in listing.items() if not files]
    if missing:
        raise DataUnavailable(f"physionet: put {', '.join(missing)} in {data_dir} {advice}")
    ids: list[int] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    sources: list[str] = []
    skipped: list[int] = []
    for name, files in listing.items():
        for path in files:
            if max_patients is not None and len(ids) >= max_patients:
                break
            record_id, times, values, mask = read_patient(path, quantization)
            if len(times) == 0:
                skipped.append(record_id)
                continue
            ids.append(record_id)
            parts.append((times, values, mask))
            sources.append(name)
    return PhysionetRecords(
        record_ids=np.array(ids, dtype=np.int64),
        times=tuple(p[0] for p in parts),
        values=tuple(p[1] for p in parts),
        mask=tuple(p[2] for p in parts),
        sources=tuple(sources),
        quantization=quantization,
        skipped=tuple(skipped),
    )


def _indices(records: PhysionetRecords, idx: Sequence[int] | np.ndarray) -> list[int]:
    out = [int(i) for i in np.asarray(idx, dtype=np.int64).reshape(-1)]
    bad = [i for i in out if not -len(records) <= i < len(records)]
    if bad:
        raise IndexError(f"patient index {bad[0]} out of range for {len(records)} patients")
    return out


def fit_normalization(
    records: PhysionetRecords,
    train_idx: Sequence[int] | np.ndarray,
    method: Literal["rubanova", "minmax"] = "rubanova",
) -> Normalization:
    """Per-variable statistics over the observed entries of the patients ``train_idx``.

    ``"rubanova"``: offset min, scale max (1 where max is 0); ``"minmax"``: offset min, scale
    max - min (1 where that is 0). A variable never observed in training gets offset 0, scale 1.
    """
    if method not in ("rubanova", "minmax"):
        raise InputError(f"normalization {method!r}: allowed 'rubanova', 'minmax'")
    chosen = _indices(records, train_idx)
    values = np.concatenate([records.values[i] for i in chosen] + [np.zeros((0, N_VARIABLES))])
    observed = np.concatenate([records.mask[i] for i in chosen] + [np.zeros((0, N_VARIABLES))]) > 0
    low = np.where(observed, values, np.inf).min(axis=0, initial=np.inf)
    high = np.where(observed, values, -np.inf).max(axis=0, initial=-np.inf)
    seen = np.isfinite(low)
    offset = np.where(seen, low, 0.0)
    scale = np.where(seen, high if method == "rubanova" else high - low, 1.0)
    scale = np.where(scale == 0.0, 1.0, scale)
    return Normalization(offset=offset, scale=scale, method=method)


def normalize(
    records: PhysionetRecords,
    train_idx: Sequence[int] | np.ndarray,
    method: Literal["rubanova", "minmax"] = "rubanova",
) -> PhysionetRecords:
    """``records`` with every patient's observed values normalized by statistics of the
    training patients ``train_idx`` only (see :func:`fit_normalization`)."""
    if records.normalization is not None:
        raise ValueError("these PhysioNet records are normalized already")
    norm = fit_normalization(records, train_idx, method)
    values = tuple(norm.apply(v, m) for v, m in zip(records.values, records.mask, strict=True))
    return dataclasses.replace(records, values=values, normalization=norm)


def to_padded(records: PhysionetRecords, idx: Sequence[int] | np.ndarray) -> PaddedSeries:
    """The patients ``idx`` as one padded batch (see :class:`PaddedSeries`)."""
    chosen = _indices(records, idx)
    lengths = np.array([len(records.times[i]) for i in chosen], dtype=np.int64)
    width = int(lengths.max(initial=0))
    times = np.zeros((len(chosen), width))
    values = np.zeros((len(chosen), width, N_VARIABLES))
    mask = np.zeros((len(chosen), width, N_VARIABLES))
    for row, (i, n) in enumerate(zip(chosen, lengths, strict=True)):
        times[row, :n] = records.times[i]
        times[row, n:] = records.times[i][-1] if n else 0.0
        values[row, :n] = records.values[i]
        mask[row, :n] = records.mask[i]
    return PaddedSeries(times=times, values=values, mask=mask, lengths=lengths)
