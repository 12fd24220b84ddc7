"""A warm worker's next JAX cell of one structure (another seed) reuses the jitted programs:
no tracing, no compilation (jax's own cache counters), and the same numbers as a session
whose programs were built fresh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.spec import Cell  # noqa: E402
from tests.jax.test_session import cell as session_cell  # noqa: E402


def cell(seed: int, **kw) -> Cell:
    """The spiral ERNODE cell of tests/jax/test_session.py at batch 16."""
    return session_cell(seed=seed, **{"params": {"batch_size": 16, "learning_rate": 0.01}, **kw})


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _run(registry, c: Cell):
    """A session of ``c``, two training steps and a prediction: the session and its numbers."""
    setup = make_setup(c, registry)
    session = registry.backends["jax"].load()().session(setup)
    data = setup.task.data(c.seed)
    steps = [
        session.train_step(setup.task.train_batch(data, s, c.seed, 16), s, 0.1) for s in (0, 1)
    ]
    pred, pstats = session.predict(setup.task.test_batch(data))
    return session, (steps, pstats, pred, session.parameters())


def _same(a, b) -> None:
    (sa, pa, preda, para), (sb, pb, predb, parb) = a, b
    assert sa == sb and pa == pb
    np.testing.assert_array_equal(preda, predb)
    for k in para:
        np.testing.assert_array_equal(para[k], parb[k])


def test_next_seed_reuses_the_compiled_programs_with_identical_results(registry) -> None:
    from ndebench_jax import session as jax_session

    jax_session._PROGRAMS.clear()
    first, _ = _run(registry, cell(0))
    traced = (first._step._cache_size(), first._predict._cache_size())
    assert traced[0] >= 1 and traced[1] >= 1
    warm, warm_numbers = _run(registry, cell(1))
    # the same jitted functions, and jax compiled nothing more for the new seed
    assert warm._step is first._step and warm._predict is first._predict
    assert (warm._step._cache_size(), warm._predict._cache_size()) == traced
    # a session whose programs are built fresh gives the same numbers, bit for bit
    jax_session._PROGRAMS.clear()
    fresh, fresh_numbers = _run(registry, cell(1))
    assert fresh._step is not first._step
    _same(warm_numbers, fresh_numbers)
    # and the seed reaches the program: seed 0 and seed 1 differ (data, weights, keys)
    _, seed0 = _run(registry, cell(0))
    assert seed0[0] != warm_numbers[0]


def test_another_program_never_takes_a_cached_one(registry) -> None:
    """Other regularizer, adjoint, dtype or tolerance: another program, even for one cell
    (gradient fidelity builds such sessions from the cell's own setup)."""
    from ndebench_jax.session import program_key

    c = cell(0)
    setup = make_setup(c, registry)
    plain = registry.component("regularizer", "jax", "none")
    keys = {
        program_key(setup),
        program_key(dataclasses.replace(setup, regularizer=plain)),
        program_key(dataclasses.replace(setup, regularizer_params={"weight": 0.5})),
        program_key(dataclasses.replace(setup, dtype="float64")),
        program_key(make_setup(cell(0, adjoint="interpolating", regularizer="none"), registry)),
        program_key(make_setup(cell(0, params={"batch_size": 16, "rtol": 1e-3}), registry)),
    }
    assert len(keys) == 6
    # seeds share one program
    assert program_key(make_setup(cell(7), registry)) == program_key(setup)


def test_program_cache_keeps_the_most_recent() -> None:
    from ndebench_jax.session import ProgramCache

    cache = ProgramCache(size=2)
    cache.put("a", (1,))
    cache.put("b", (2,))
    assert cache.get("a") == (1,)  # a is now the most recent
    cache.put("c", (3,))
    assert cache.get("b") is None and cache.get("a") == (1,) and cache.get("c") == (3,)


def test_a_float64_session_between_two_seeds_costs_no_recompilation(registry, monkeypatch) -> None:
    """Gradient fidelity's float64 reference runs between a warm worker's cells: the next
    float32 cell gets x64 off again (as a fresh process has it) and its cached programs hit.
    (This test directory's conftest turns x64 on for the whole process; here the process's own
    setting is taken to be off, as in a worker.)"""
    import jax
    from ndebench_jax import session as jax_session

    monkeypatch.setattr(jax_session, "_X64_DEFAULT", False)
    jax_session._PROGRAMS.clear()
    try:
        first, _ = _run(registry, cell(0))
        assert not jax.config.jax_enable_x64
        traced = first._step._cache_size()
        f64 = {"batch_size": 16, "learning_rate": 0.01, "dtype": "float64"}
        _run(registry, cell(0, params=f64))
        assert jax.config.jax_enable_x64
        warm, _ = _run(registry, cell(1))
        assert not jax.config.jax_enable_x64
        assert warm._step is first._step and warm._step._cache_size() == traced
    finally:
        jax_session._PROGRAMS.clear()
        jax.config.update("jax_enable_x64", True)  # the conftest's setting
