"""Atomic writes for reports: :mod:`ndebench.atomic` (the one helper). These names remain
here only for :mod:`ndebench.export`, which imports them from this module."""

from __future__ import annotations

from ndebench.atomic import write_text_atomic, write_with_atomic

__all__ = ["write_text_atomic", "write_with_atomic"]
