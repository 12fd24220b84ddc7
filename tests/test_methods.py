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
