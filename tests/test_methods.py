"""The method catalogue and tableau constants against the reference code's values."""

from __future__ import annotations

from ndebench.methods import METHODS
from ndebench.tableaus import DOPRI5, TSIT5


def test_stability_sizes_are_ordinarydiffeq_alg_stability_size() -> None:
    assert TSIT5.stability_size == 3.5068
    assert DOPRI5.stability_size == 3.3066  # alg_stability_size(DP5())


def test_local_stiffness_eps_default_is_the_dtype_machine_epsilon() -> None:
    for name in ("local_stiffness_unbiased", "local_stiffness_biased"):
        assert METHODS[name].defaults["eps"] is None  # None: eps of the state's dtype


def test_families_and_baseline_are_declared() -> None:
    from ndebench.methods import declare

    assert all(m.family for m in METHODS.values())
    assert [n for n, m in METHODS.items() if m.baseline] == ["none"]
    assert declare("none", "x", "m:C").baseline and not declare("ernode", "x", "m:C").baseline
    assert "2105.03918" in declare("srnode", "x", "m:C").family
    assert "2303.02262" in declare("local_error_biased", "x", "m:C").family


def test_builtin_backends_declare_their_reference_adjoint_and_baseline() -> None:
    from ndebench.plugins import load_registry

    reg = load_registry()
    for backend in ("torch", "jax"):
        assert reg.reference_adjoint(backend) == "discrete"
        assert reg.baseline_regularizer(backend) == "none"
        info = reg.component("regularizer", backend, "rnode_kinetic")
        assert "2002.02798" in info.family and not info.baseline
