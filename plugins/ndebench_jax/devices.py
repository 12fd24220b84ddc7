"""Which devices jax sees (used by the backend's availability check and by the session)."""

from __future__ import annotations


def has_gpu() -> bool:
    import jax

    try:
        return len(jax.devices("gpu")) > 0
    except RuntimeError:
        return False
