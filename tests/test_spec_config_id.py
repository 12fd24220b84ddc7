"""config_id: the configuration without seed, suite name and resource limits."""

from __future__ import annotations

from typing import Any

from ndebench.spec import config_id


def _cell(**params: Any) -> dict[str, Any]:
    base = {"rtol": 1e-5, "timeout_s": 60, "memory_limit_mb": None}
    return {"task": "spiral", "seed": 0, "suite": "a", "swept": [], "params": {**base, **params}}


def test_limits_leave_config_id() -> None:
    assert config_id(_cell()) == config_id(_cell(timeout_s=600, memory_limit_mb=4000))


def test_result_shaping_parameters_stay_in_config_id() -> None:
    assert config_id(_cell()) != config_id(_cell(rtol=1e-6))
    other_seed = {**_cell(), "seed": 1, "suite": "b"}
    assert config_id(_cell()) == config_id(other_seed)
