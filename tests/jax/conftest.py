"""JAX test setup: float64 available (``jax_enable_x64`` is process-global; every float32 path
in the backend casts explicitly, and the session tests check float32 under it)."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("jax") is not None:
    import jax

    jax.config.update("jax_enable_x64", True)
