"""TorchBackend/TorchSession on the spiral through core's CellSetup."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.backend import TorchBackend  # noqa: E402

from ndebench.backend import Diverged  # noqa: E402
from ndebench.spec import PredictStats, StepStats  # noqa: E402

from .helpers import make_setup  # noqa: E402

pytestmark = pytest.mark.requires_torch


def _run(setup, steps=2, weight=0.1):
    task = setup.task
    data = task.data(0)
    session = TorchBackend().session(setup)
    stats = [session.train_step(task.train_batch(data, i, 0, 16), i, weight) for i in range(steps)]
    pred, pstats = session.predict(data.test)
    session.sync()
    return session, stats, pred, pstats, data


@pytest.mark.parametrize(
    ("regularizer", "solver"),
    [
        ("none", "tsit5"),
        ("ernode", "tsit5"),
        ("srnode", "tsit5"),
        ("ernode", "dopri5"),
        ("none", "bosh3"),
        ("ernode", "bosh3"),
    ],
)
def test_train_step_and_predict(regularizer, solver):
    setup = make_setup(regularizer, solver)
    session, stats, pred, pstats, data = _run(setup)
    for s in stats:
        assert isinstance(s, StepStats)
        assert math.isfinite(s.loss) and math.isfinite(s.reg_value)
        assert s.nfe_forward > 0 and s.nfe_backward > 0 and s.steps_accepted > 0
        assert (s.reg_value > 0) == (regularizer != "none")
    stages = session.solver.tableau.stages
    assert stats[0].nfe_forward == 2 + (stages - 1) * (
        stats[0].steps_accepted + stats[0].steps_rejected
    )
    assert isinstance(pstats, PredictStats) and pstats.nfe > 0
    assert pred.shape == data.test.targets.shape and pred.dtype == np.float64
    assert session.device_peak_memory_mb() is None


def test_training_changes_weights_and_regularizer_changes_gradient():
    base = make_setup("ernode", dtype="float64")
    s0, st0, *_ = _run(base, steps=1, weight=0.0)
    s1, st1, *_ = _run(base, steps=1, weight=10.0)
    assert st0[0].loss == st1[0].loss  # same start, same batch
    w0 = s0.parts["vector_field"].layers[0].weight
    w1 = s1.parts["vector_field"].layers[0].weight
    assert not torch.equal(w0, w1)


def test_float64_session_and_params():
    setup = make_setup("srnode", dtype="float64")
    session, _stats, *_ = _run(setup, steps=1)
    assert all(p.dtype == torch.float64 for p in session.parts.parameters())
    assert session.extra_metrics()["regularizer_record"]["normalizer_used"] == 3.5068


def test_time_dependent_vector_field():
    setup = make_setup("srnode", time_dependent=True)
    session, stats, pred, _, data = _run(setup, steps=1)
    assert session.field.time_input
    assert session.parts["vector_field"].layers[1].weight.shape == (16, 17)
    assert math.isfinite(stats[0].loss) and pred.shape == data.test.targets.shape


def test_diverged_on_nan_loss():
    setup = make_setup("none")
    task = setup.task
    data = task.data(0)
    session = TorchBackend().session(setup)
    with torch.no_grad():
        session.parts["vector_field"].layers[0].bias.fill_(float("nan"))
    with pytest.raises(Diverged):
        session.train_step(task.train_batch(data, 0, 0, 8), 0, 0.0)


def test_unavailable_and_version():
    backend = TorchBackend()
    assert backend.unavailable(make_setup().cell) is None
    assert backend.version() == torch.__version__
    cuda = make_setup(device="cuda").cell
    if not torch.cuda.is_available():
        assert backend.unavailable(cuda) == "no CUDA device"


@pytest.mark.requires_gpu
def test_cuda_train_step():
    _, stats, pred, _, _ = _run(make_setup("ernode", device="cuda"), steps=1)
    assert math.isfinite(stats[0].loss) and pred.shape[1] == 32


@pytest.mark.slow  # two torch.compile builds (~25 s on CI); test_compiled_step.py checks the
# compiled step against eager, tests/test_benchmarks.py runs compiled cells end to end
def test_compiled_train_step():
    setup = make_setup("ernode", mode="compiled")
    reason = TorchBackend().unavailable(setup.cell)
    if reason:
        pytest.skip(reason)
    _session, stats, pred, _pstats, data = _run(setup, steps=2)
    assert math.isfinite(stats[-1].loss) and pred.shape == data.test.targets.shape
    _eager, estats, epred, *_ = _run(make_setup("ernode"), steps=2)
    assert abs(stats[0].steps_accepted - estats[0].steps_accepted) <= 1
    np.testing.assert_allclose(pred, epred, rtol=1e-3, atol=1e-4)
