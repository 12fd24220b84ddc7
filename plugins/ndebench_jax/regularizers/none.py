"""No regularizer: R = 0, plain training and plain NFE."""

from __future__ import annotations

from typing import ClassVar

from ndebench_jax.regularizers.base import AbstractJaxRegularizer


class NoRegularizer(AbstractJaxRegularizer):
    name: ClassVar[str] = "none"
    estimate: ClassVar[str | None] = None
