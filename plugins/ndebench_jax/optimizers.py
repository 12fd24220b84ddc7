"""The JAX backend's optimizer and dtype tables: one place, so an optimizer, a learning-rate
schedule or a dtype a suite names reaches every JAX cell (ODE and SDE alike)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndebench.backend import UnsupportedCell

#: every optimizer a suite may name (core's ``optimizer`` choices), as a maker of the optax
#: optimizer from the optax module (imported only when a cell builds one)
OPTIMIZERS: dict[str, Callable[[Any], Callable[..., Any]]] = {
    "adam": lambda optax: optax.adam,
    "adamax": lambda optax: optax.adamax,
    "sgd": lambda optax: optax.sgd,
    "momentum": lambda optax: lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
}

#: every dtype a suite may name (core's ``dtype`` choices), as the jax.numpy dtype's name
DTYPES: dict[str, str] = {"float32": "float32", "float64": "float64"}


def dtype_of(name: str) -> Any:
    """The jax.numpy dtype ``name``; ``UnsupportedCell`` for a name the table lacks (call after
    the cell's x64 setting, :func:`ndebench_jax.session.compile_cache`)."""
    import jax.numpy as jnp

    if name not in DTYPES:
        raise UnsupportedCell(f"jax backend has no dtype {name!r} (has {sorted(DTYPES)})")
    return jnp.dtype(DTYPES[name])


def make_optimizer(name: str, learning_rate: float) -> Any:
    """The optax optimizer ``name`` with its learning rate as an injected hyperparameter (set per
    step by :func:`set_learning_rate`); ``UnsupportedCell`` for a name the table lacks."""
    import optax

    if name not in OPTIMIZERS:
        raise UnsupportedCell(f"jax backend has no optimizer {name!r} (has {sorted(OPTIMIZERS)})")
    return optax.inject_hyperparams(OPTIMIZERS[name](optax))(learning_rate=learning_rate)


def set_learning_rate(opt_state: Any, schedule: str, base: float, step: int, device: Any) -> None:
    """Sets the rate in ``opt_state`` to core's schedule at ``step`` (ndebench.schedules.lr_at),
    so both backends use identical rates; a constant schedule leaves the state as it is."""
    if schedule == "constant":
        return
    import jax
    import jax.numpy as jnp

    from ndebench.schedules import lr_at

    hyper = opt_state.hyperparams
    value = jnp.asarray(lr_at(schedule, base, step), hyper["learning_rate"].dtype)
    hyper["learning_rate"] = jax.device_put(value, device)
