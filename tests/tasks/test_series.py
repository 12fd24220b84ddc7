"""Latent-ODE tasks in core: the union grid, the synthetic data, the PhysioNet task's data,
split and availability (no framework imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndebench.components import PER_SAMPLE_TIMES, RECURRENT
from ndebench.models import GRUCell
from ndebench.tasks.base import Batch
from ndebench.tasks.latent_ode import LatentOde
from ndebench.tasks.physionet import Physionet
from ndebench.tasks.series import gaps, kl_weight, noise, union_grid

SMALL = {"n_train": 12, "n_test": 6, "n_points": 15}


def test_union_grid_maps_every_sample_to_its_times() -> None:
    times = np.array([[0.1, 0.3, 0.5, 0.5], [0.2, 0.3, 0.4, 0.8]])
    grid, index = union_grid(times)
    np.testing.assert_array_equal(grid, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8])
    np.testing.assert_array_equal(grid[index], times)
    padded, index2 = union_grid(times, pad_to=16)
    assert padded.shape == (16,) and np.all(padded[7:] == 0.8)
    np.testing.assert_array_equal(index2, index)
    with pytest.raises(ValueError, match="does not fit"):
        union_grid(times, pad_to=3)
    with pytest.raises(ValueError, match="non-decreasing"):
        union_grid(np.array([[0.3, 0.1]]))
    np.testing.assert_allclose(gaps(times), [[0.2, 0.2, 0.0, 0.0], [0.1, 0.1, 0.4, 0.0]])


def test_kl_weight_schedule_and_noise_stream() -> None:
    assert kl_weight(0, 10, 0.99) == 0.0 and kl_weight(10, 10, 0.99) == 0.0
    assert kl_weight(11, 10, 0.99) == pytest.approx(0.01)
    assert kl_weight(10_000, 10, 0.99) == pytest.approx(1.0)
    np.testing.assert_array_equal(noise(3, 7, (2, 4)), noise(3, 7, (2, 4)))
    assert not np.array_equal(noise(3, 7, (2, 4)), noise(3, 8, (2, 4)))


def test_latent_ode_data_layout_and_determinism() -> None:
    task = LatentOde(SMALL)
    assert task.requires == {PER_SAMPLE_TIMES, RECURRENT}
    spec = task.model()
    assert spec.kind == "latent_ode" and isinstance(spec.parts["encoder"].layers[0], GRUCell)
    data = task.data(0)
    tr, te = data.train, data.test
    n_t = tr.times.shape[1]
    assert tr.inputs.shape == (12, n_t, 6) and tr.targets.shape == (12, n_t, 3)
    assert te.times.shape == (6, n_t)  # one width for the whole data set
    assert np.all(np.diff(tr.times, axis=1) >= 0) and tr.times.min() >= 0
    # training: the encoder reads what the loss scores; every observed time has a variable
    np.testing.assert_array_equal(tr.inputs[..., 3:], tr.mask)
    # test: held-out entries are scored, never read, and together they are the observations
    enc, held = te.inputs[..., 3:], te.mask
    assert np.all(enc * held == 0) and held.sum() > 0 and enc.sum() > 0
    again = LatentOde(SMALL).data(0)
    np.testing.assert_array_equal(again.train.targets, tr.targets)
    assert not np.array_equal(LatentOde(SMALL).data(1).train.times, tr.times)
    # the metric reads only the scored entries
    pred = te.targets + (1 - te.mask) * 100.0
    assert task.metric(pred, te) == 0.0
    assert task.metric(te.targets + te.mask, te) == pytest.approx(1.0)


def test_select_keeps_per_sample_rows() -> None:
    task = LatentOde(SMALL)
    data = task.data(0)
    b = task.train_batch(data, 3, 0, 5)
    assert isinstance(b, Batch) and b.times.shape[0] == 5 and b.mask is not None
    assert b.mask.shape == b.targets.shape == (5, data.train.times.shape[1], 3)


DESCRIPTORS = "00:00,RecordID,{rid}\n00:00,Age,54\n00:00,Gender,0\n00:00,ICUType,4\n"


def write_physionet(root: Path, n: int = 10) -> Path:
    """``n`` patients in the challenge's format, spread over set-a and set-b."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("set-a" if i % 2 == 0 else "set-b")
        folder.mkdir(parents=True, exist_ok=True)
        rows = ["Time,Parameter,Value", DESCRIPTORS.format(rid=140000 + i).strip()]
        for k in range(3 + i % 4):
            rows.append(f"{k:02d}:{(7 * i) % 60:02d},HR,{60 + rng.integers(40)}")
            rows.append(f"{k:02d}:{(7 * i) % 60:02d},Temp,{36 + rng.uniform():.2f}")
        rows.append(f"{10 + i:02d}:30,Urine,{100 + i}")
        (folder / f"{140000 + i}.txt").write_text("\n".join(rows) + "\n")
    return root


def test_physionet_unavailable_says_what_to_put_where(tmp_path: Path) -> None:
    assert "set [params.task.physionet] data_dir" in str(Physionet({}).unavailable())
    msg = Physionet({"data_dir": str(tmp_path / "nope")}).unavailable()
    assert msg is not None and "is not a directory" in msg and "set-a/" in msg
    (tmp_path / "set-a").mkdir()
    msg = Physionet({"data_dir": str(tmp_path)}).unavailable()
    assert msg is not None and "set-a/, set-b/" in msg and "\n" not in msg
    write_physionet(tmp_path)
    assert Physionet({"data_dir": str(tmp_path)}).unavailable() is None


def test_physionet_split_normalization_and_padding(tmp_path: Path) -> None:
    task = Physionet({"data_dir": str(write_physionet(tmp_path))})
    assert task.model().parts["decoder"].layers[0].out_features == 37  # type: ignore[union-attr]
    data = task.data(0)
    tr, te = data.train, data.test
    assert (tr.size, te.size) == (8, 2)  # 80/20
    assert tr.times.shape[1] == te.times.shape[1]  # padded to the longest series
    assert tr.times.max() <= 1.0 + 1e-12 and tr.times.min() >= 0.0
    # normalized with training statistics: observed training HR lies in [0, 1]
    hr = tr.targets[..., 15][tr.mask[..., 15] > 0]
    assert hr.size and hr.min() == 0.0 and hr.max() <= 1.0
    assert np.all(tr.targets[tr.mask == 0] == 0.0)
    np.testing.assert_array_equal(te.mask, te.inputs[..., 37:])  # reconstruction by default
    assert task.data(5).train.targets.shape == tr.targets.shape  # split independent of seed


def test_capability_matrix_marks_physionet_without_data_unsupported(tmp_path: Path) -> None:
    from ndebench.capabilities import unsupported_reason
    from ndebench.plugins import load_registry
    from ndebench.spec import Cell

    registry = load_registry()

    def cell(task: str, params: dict) -> Cell:
        return Cell(
            suite="t", backend="torch", mode="eager", device="cpu", task=task, solver="tsit5",
            adjoint="discrete", regularizer="none", seed=0, params={},
            component_params={"task": params},
        )  # fmt: skip

    reason = unsupported_reason(registry, cell("physionet", {"data_dir": str(tmp_path / "x")}))
    assert reason is not None and "[params.task.physionet] data_dir" in reason
    root = write_physionet(tmp_path / "data")
    assert unsupported_reason(registry, cell("physionet", {"data_dir": str(root)})) is None
    assert unsupported_reason(registry, cell("latent_ode", {})) is None
