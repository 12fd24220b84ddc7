"""PhysioNet 2012 reader on small patient files in the challenge's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndebench.data import (
    PHYSIONET_VARIABLES,
    DataUnavailable,
    load_physionet,
    normalize,
    read_patient,
    to_padded,
)
from ndebench.errors import InputError
from tests.data.helpers import format_error

V = {name: i for i, name in enumerate(PHYSIONET_VARIABLES)}
DESCRIPTORS = "00:00,Age,54\n00:00,Gender,0\n00:00,Height,-1\n00:00,ICUType,4\n"


def patient(directory: Path, record_id: int, rows: str, *, header: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record_id}.txt"
    text = ("Time,Parameter,Value\n" if header else "") + f"00:00,RecordID,{record_id}\n"
    path.write_text(text + rows)
    return path


FIRST = (
    DESCRIPTORS + "00:00,Weight,80.5\n"
    "00:07,HR,73\n"
    "00:08,HR,75\n"
    "00:08,NIMAP,80.33\n"
    "01:30,Temp,36.6\n"
    "01:30,Temp,37.0\n"
    "01:30,Temp,37.1\n"
    "12:00,Urine,100\n"
    "12:00,Weight,81\n"
    "00:40,GCS,15\n"  # out of order: grouped all the same
)


def dataset(root: Path) -> Path:
    patient(root / "set-a", 132539, FIRST)
    patient(root / "set-a", 132540, DESCRIPTORS + "00:00,Weight,-1\n00:30,HR,88\n")
    patient(root / "set-a", 132541, DESCRIPTORS + "00:00,Weight,-1\n")  # nothing observed
    patient(root / "set-b", 140001, "02:00,HR,60\n")
    (root / "set-a" / "README").write_text("not a patient file")
    return root


def test_known_values_masks_and_merged_times(tmp_path: Path) -> None:
    path = patient(tmp_path, 132539, FIRST)
    record_id, times, values, mask = read_patient(path)
    assert record_id == 132539
    np.testing.assert_allclose(times, [0.0, 0.1, 0.7, 1.5, 12.0], rtol=0, atol=1e-12)
    expected = np.zeros((5, 37))
    expected[0, V["Weight"]] = 80.5
    expected[1, V["HR"]] = 74.0  # 00:07 and 00:08 fall in the same 0.1 h: mean
    expected[1, V["NIMAP"]] = 80.33
    expected[2, V["GCS"]] = 15.0
    expected[3, V["Temp"]] = (36.6 + 37.0 + 37.1) / 3
    expected[4, V["Urine"]] = 100.0
    expected[4, V["Weight"]] = 81.0
    np.testing.assert_allclose(values, expected, rtol=1e-14)
    np.testing.assert_array_equal(mask, (expected != 0).astype(float))
    assert values.dtype == mask.dtype == np.float64


def test_quantization_choices(tmp_path: Path) -> None:
    path = patient(tmp_path, 132539, FIRST)
    _, times, values, _ = read_patient(path, quantization=None)
    np.testing.assert_allclose(times, [0, 7 / 60, 8 / 60, 40 / 60, 1.5, 12.0])
    assert values[1, V["HR"]] == 73.0 and values[2, V["HR"]] == 75.0
    _, times, values, mask = read_patient(path, quantization=1.0)
    # round(h): 00:07, 00:08 -> 0; 00:40 -> 1; 01:30 -> 2 (round half to even, as the reference)
    np.testing.assert_array_equal(times, [0.0, 1.0, 2.0, 12.0])
    assert values[0, V["HR"]] == 74.0 and values[0, V["Weight"]] == 80.5
    assert mask[1].sum() == 1 and values[1, V["GCS"]] == 15.0


def test_load_sets_order_sources_and_skipped(tmp_path: Path) -> None:
    records = load_physionet(dataset(tmp_path), sets=("set-a", "set-b"))
    assert records.record_ids.tolist() == [132539, 132540, 140001]
    assert records.sources == ("set-a", "set-a", "set-b")
    assert records.skipped == (132541,)
    assert len(records) == 3 and records.variables == PHYSIONET_VARIABLES
    # Weight -1 is "unknown": not an observation
    np.testing.assert_allclose(records.times[1], [0.5])
    assert records.mask[1].sum() == 1 and records.values[1][0, V["HR"]] == 88.0
    only_a = load_physionet(tmp_path)
    assert only_a.record_ids.tolist() == [132539, 132540]
    first = load_physionet(tmp_path, sets=("set-b", "set-a"), max_patients=2)
    assert first.record_ids.tolist() == [140001, 132539]


def test_the_37_variables() -> None:
    assert len(PHYSIONET_VARIABLES) == len(set(PHYSIONET_VARIABLES)) == 37
    assert not {"RecordID", "Age", "Gender", "Height", "ICUType"} & set(PHYSIONET_VARIABLES)
    assert PHYSIONET_VARIABLES[:3] == ("Weight", "Albumin", "ALP")
    assert PHYSIONET_VARIABLES[-3:] == ("TroponinT", "Urine", "WBC")


@pytest.mark.parametrize(
    ("row", "what"),
    [
        ("00:07,HR", "expected 3 fields"),
        ("00:07,HR,73,1", "expected 3 fields"),
        ("7:5x,HR,73", "time '7:5x' is not HH:MM"),
        ("00:61,HR,73", "time '00:61' is not HH:MM"),
        ("00:07,HR,abc", "value 'abc' of HR is not a finite number"),
        ("00:07,HR,nan", "value 'nan' of HR is not a finite number"),
        ("00:07,Platelet,120", "unknown parameter 'Platelet' (did you mean 'Platelets'?)"),
        ("00:07,RecordID,999", "RecordID 999 does not match the file name 132541.txt"),
        ("00:07,HR,", "value '' of HR is not a finite number"),
    ],
    ids=["few", "many", "time", "minutes", "value", "nan", "unknown", "record", "empty"],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, row: str, what: str) -> None:
    good = patient(tmp_path / "set-a", 132540, "00:30,HR,88\n")
    bad = patient(tmp_path / "set-a", 132541, DESCRIPTORS + "00:05,HR,70\n" + row + "\n")
    # line 1 header, 2 RecordID, 3-6 descriptors, 7 HR, 8 the bad row
    with format_error(bad, line=8) as info:
        load_physionet(tmp_path)
    assert what in str(info.value)
    assert str(good) not in str(info.value)


@pytest.mark.parametrize("content", ["", "Time;Parameter;Value\n00:00,HR,1\n", "\x00\x01garbage"])
def test_bad_header(tmp_path: Path, content: str) -> None:
    path = tmp_path / "set-a" / "1.txt"
    path.parent.mkdir()
    path.write_text(content)
    with format_error(path, line=1) as info:
        load_physionet(tmp_path)
    assert "expected the header 'Time,Parameter,Value'" in str(info.value)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "set-a" / "1.txt"
    path.parent.mkdir()
    path.write_bytes(b"Time,Parameter,Value\n\xff\xfe\n")
    with format_error(path):
        load_physionet(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailable) as info:
        load_physionet(tmp_path / "none", sets=("set-a", "set-b"))
    message = str(info.value)
    assert "set-a/, set-b/" in message and str(tmp_path / "none") in message
    assert "[params.task.physionet]" in message and "<RecordID>.txt" in message
    assert "\n" not in message


def test_missing_or_empty_set(tmp_path: Path) -> None:
    dataset(tmp_path)
    (tmp_path / "set-c").mkdir()
    with pytest.raises(DataUnavailable) as info:
        load_physionet(tmp_path, sets=("set-a", "set-c", "set-d"))
    message = str(info.value)
    assert f"put set-c/, set-d/ in {tmp_path} " in message and "set-a/" not in message


@pytest.mark.parametrize(
    "kwargs",
    [{"quantization": 0}, {"quantization": -1.0}, {"sets": "set-a"}, {"max_patients": 0}],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(InputError):
        load_physionet(dataset(tmp_path), **kwargs)


# --- normalization and padding --------------------------------------------------------------


def split_dataset(root: Path) -> Path:
    patient(root / "set-a", 1, "00:30,HR,70\n01:00,HR,80\n01:00,Temp,36\n")
    patient(root / "set-a", 2, "00:30,HR,90\n00:30,Temp,38\n")
    patient(root / "set-a", 3, "00:30,HR,200\n00:42,Temp,30\n00:42,Urine,50\n")
    return root


def test_normalization_uses_training_statistics_only(tmp_path: Path) -> None:
    records = load_physionet(split_dataset(tmp_path))
    train, test = [0, 1], [2]
    out = normalize(records, train)
    assert out.normalization is not None and records.normalization is None
    # reference formula (x - min) / max with min and max over patients 1 and 2 only
    hr, temp, urine = V["HR"], V["Temp"], V["Urine"]
    np.testing.assert_allclose(out.values[0][:, hr], [0.0, 10 / 90])
    np.testing.assert_allclose(out.values[1][0, [hr, temp]], [20 / 90, 2 / 38])
    test_values = out.values[test[0]]
    np.testing.assert_allclose(test_values[0, hr], 130 / 90)
    np.testing.assert_allclose(test_values[1, temp], -6 / 38)
    assert test_values[1, urine] == 50.0  # never observed in training: left as is
    for values, mask in zip(out.values, out.mask, strict=True):
        assert np.all(values[mask == 0] == 0.0)
    # with the test patient in the statistics the numbers would differ
    leaky = normalize(records, [0, 1, 2])
    assert leaky.values[0][1, hr] != out.values[0][1, hr]
    minmax = normalize(records, np.array(train), method="minmax")
    np.testing.assert_allclose(minmax.values[2][0, hr], 130 / 20)
    np.testing.assert_allclose(minmax.values[2][1, temp], -6 / 2)
    with pytest.raises(ValueError, match="normalized already"):
        normalize(out, train)
    with pytest.raises(InputError, match="'rubanova', 'minmax'"):
        normalize(records, train, method="zscore")  # type: ignore[arg-type]


def test_to_padded(tmp_path: Path) -> None:
    records = load_physionet(split_dataset(tmp_path))
    batch = to_padded(records, [2, 1])
    times, values, mask, lengths = batch
    assert lengths.tolist() == [2, 1]
    assert times.shape == (2, 2) and values.shape == mask.shape == (2, 2, 37)
    np.testing.assert_allclose(times, [[0.5, 0.7], [0.5, 0.5]])  # padding repeats the last time
    np.testing.assert_array_equal(values[0], records.values[2])
    np.testing.assert_array_equal(values[1, :1], records.values[1])
    assert np.all(values[1, 1:] == 0) and np.all(mask[1, 1:] == 0)
    assert mask.sum() == records.mask[2].sum() + records.mask[1].sum()
    with pytest.raises(IndexError):
        to_padded(records, [3])


def reference_parse(lines: list[str], quantization: float) -> tuple[list[float], np.ndarray]:
    """The reference's loop (latent_ode ``physionet.py``): a new time point whenever the
    quantized time changes, a running average per variable, the 37 variables' columns."""
    times, rows, counts = [0.0], [np.zeros(37)], [np.zeros(37)]
    previous = 0.0
    for line in lines[1:]:
        clock, name, value = line.split(",")
        hours = float(clock.split(":")[0]) + float(clock.split(":")[1]) / 60.0
        time = round(hours / quantization) * quantization
        if time != previous:
            times.append(time)
            rows.append(np.zeros(37))
            counts.append(np.zeros(37))
            previous = time
        if name in V:
            n = counts[-1][V[name]]
            rows[-1][V[name]] = (rows[-1][V[name]] * n + float(value)) / (n + 1)
            counts[-1][V[name]] += 1
    keep = [i for i, c in enumerate(counts) if c.any()]
    return [times[i] for i in keep], np.array([rows[i] for i in keep])


@pytest.mark.parametrize("quantization", [0.1, 0.25, 1.0])
def test_agrees_with_the_reference_loop(tmp_path: Path, quantization: float) -> None:
    rng = np.random.default_rng(3)
    minutes = np.sort(rng.integers(0, 48 * 60, 300))  # many rows on rounding halves
    lines = ["Time,Parameter,Value", "00:00,RecordID,7", "00:00,Age,60"]
    for m in minutes:
        name = PHYSIONET_VARIABLES[rng.integers(0, 37)]
        lines.append(f"{m // 60:02d}:{m % 60:02d},{name},{rng.normal(50, 20):.2f}")
    path = tmp_path / "7.txt"
    path.write_text("\n".join(lines) + "\n")
    expected_times, expected_values = reference_parse(lines, quantization)
    _, times, values, mask = read_patient(path, quantization)
    np.testing.assert_allclose(times, expected_times, rtol=0, atol=1e-9)
    np.testing.assert_allclose(values, expected_values, rtol=1e-12)
    np.testing.assert_array_equal(mask, expected_values != 0)  # no value is exactly 0.00 here
