"""The capability matrix decided from declarations: parameter values a backend cannot honour."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.spec import Cell


def _cell(backend: str, mode: str, **reg_params: object) -> Cell:
    return Cell(
        suite="t",
        backend=backend,
        mode=mode,
        device="cpu",
        task="spiral",
        solver="tsit5",
        adjoint="discrete",
        regularizer="ernode",
        seed=0,
        component_params={"regularizer": dict(reg_params)},
    )


@pytest.mark.parametrize(("backend", "mode"), [("jax", "compiled"), ("torch", "eager")])
def test_ernode_detach_dt_false_is_unsupported_before_the_cell_runs(
    backend: str, mode: str
) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    reg = load_registry()
    info = reg.component("regularizer", backend, "ernode")
    assert info.unsupported_values["detach_dt"]  # declared, not discovered in the cell
    assert unsupported_reason(reg, _cell(backend, mode)) is None
    assert unsupported_reason(reg, _cell(backend, mode, detach_dt=True)) is None
    why = unsupported_reason(reg, _cell(backend, mode, detach_dt=False))
    assert why is not None and "detach_dt = False" in why and backend in why


@pytest.mark.requires_jax
def test_jax_ernode_refuses_detach_dt_false_when_built_directly() -> None:
    from ndebench_jax.regularizers.error_estimate import ErrorEstimateRegularizer

    from ndebench.backend import UnsupportedCell

    with pytest.raises(UnsupportedCell, match="detach_dt"):
        ErrorEstimateRegularizer(detach_dt=False)


def _overridden(cls: type, base: type, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n for n in names if getattr(cls, n) is not getattr(base, n))


def _subclasses(base: type) -> list[type]:
    out: list[type] = []
    for sub in base.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_optional_methods_are_declared_exactly() -> None:
    """``provides`` of every session and backend defined (built in, the JAX SDE session, toy,
    refkit, and any other loaded) names exactly the optional methods it overrides: the harness
    reads the declaration, never probes."""
    from ndebench.backend import (
        BACKEND_OPTIONAL,
        SESSION_OPTIONAL,
        AbstractBackend,
        AbstractSession,
    )

    expected = {"RefBackend", "RefSession", "ToyBackend", "ToySession"}
    if importlib.util.find_spec("torch"):
        import ndebench_torch.backend
        import ndebench_torch.session  # noqa: F401

        expected |= {"TorchBackend", "TorchSession"}
    if importlib.util.find_spec("jax") and importlib.util.find_spec("diffrax"):
        import ndebench_jax.backend
        import ndebench_jax.session  # noqa: F401

        expected |= {"JaxBackend", "JaxSession"}
    import ndebench_refkit  # noqa: F401
    import ndebench_toy  # noqa: F401

    sessions, backends = _subclasses(AbstractSession), _subclasses(AbstractBackend)
    assert expected <= {c.__name__ for c in sessions + backends}
    for cls in sessions:
        assert cls.provides == _overridden(cls, AbstractSession, SESSION_OPTIONAL), cls
    for cls in backends:
        assert cls.provides == _overridden(cls, AbstractBackend, BACKEND_OPTIONAL), cls


def test_a_drifted_declaration_fails_when_the_class_is_defined() -> None:
    from ndebench.backend import AbstractBackend, AbstractSession

    with pytest.raises(TypeError, match=r"implemented but not declared: \['parameters'\]"):

        class Undeclared(AbstractSession):
            def parameters(self):  # type: ignore[no-untyped-def]
                return {}

    with pytest.raises(TypeError, match=r"declared but not implemented: \['loss_and_grad'\]"):

        class Overclaiming(AbstractSession):
            provides = frozenset({"loss_and_grad"})

    with pytest.raises(TypeError, match="reference_solve"):

        class Backend(AbstractBackend):
            def reference_solve(self, *args):  # type: ignore[no-untyped-def]
                raise NotImplementedError

    class Inherits(ndebench_refkit_session()):  # a subclass inherits method and declaration
        pass

    assert Inherits.provides == {"parameters", "set_parameters", "loss_and_grad"}


def ndebench_refkit_session() -> type:
    import ndebench_refkit

    return ndebench_refkit.RefSession


@pytest.mark.parametrize("regularizer", ["steer", "taynode", "rnode_kinetic", "rnode_jacobian"])
def test_jax_declares_that_it_regularizes_no_sde(regularizer: str) -> None:
    """JAX runs SDE tasks unregularized only; the matrix says so from the declaration (the
    reason names the task requirement), and the baseline stays runnable."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax not installed")
    reg = load_registry()
    for (backend, _), info in reg.regularizers.items():
        if backend == "jax":
            assert ("sde" in info.unsupported_requirements) is (not info.baseline), info.name

    def sde_cell(name: str) -> Cell:
        return Cell(suite="t", backend="jax", mode="compiled", device="cpu", task="sde_digits",
                    solver="diffrax_spark", adjoint="discrete", regularizer=name,
                    seed=0)  # fmt: skip

    why = unsupported_reason(reg, sde_cell(regularizer))
    assert why is not None and "requires sde" in why and "diffrax" in why
    assert unsupported_reason(reg, sde_cell("none")) is None
    ode = Cell(suite="t", backend="jax", mode="compiled", device="cpu", task="digits",
               solver="tsit5", adjoint="discrete", regularizer=regularizer, seed=0)  # fmt: skip
    assert unsupported_reason(reg, ode) is None


@pytest.mark.parametrize("regularizer", ["taynode", "rnode_kinetic", "rnode_jacobian"])
def test_torch_declares_augmented_regularizers_off_sdes(regularizer: str) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed")
    reg = load_registry()
    cell = Cell(suite="t", backend="torch", mode="eager", device="cpu", task="sde_digits",
                solver="sosri", adjoint="discrete", regularizer=regularizer, seed=0)  # fmt: skip
    why = unsupported_reason(reg, cell)
    assert why is not None and "requires sde" in why and "noise terms" in why
    for other in ("none", "steer", "ernode", "srnode", "local_error_unbiased"):
        assert unsupported_reason(reg, dataclasses.replace(cell, regularizer=other)) is None, other
