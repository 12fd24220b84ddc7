"""A regularizer here is configuration: which estimate the :class:`EstimatingSolver`
accumulates per accepted step, the t0 entry, and how the entries are aggregated."""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.methods import CatalogueDefaults

AGGS = ("mean", "sum", "max")


class AbstractJaxRegularizer(CatalogueDefaults):
    name: ClassVar[str]
    estimate: ClassVar[str | None] = None
    defaults: ClassVar[dict[str, Any]] = {}
    #: salt of the per-step random stream: key = fold_in(fold_in(key(seed), step), salt)
    salt: ClassVar[int] = 0
    #: how the estimating solver forms the per-step estimate (ERNODE sets these from its
    #: parameters; every other estimate uses the published form: EEst * detached dt, scaled)
    times_dt: bool = True
    scaled: bool = True
    detach_dt: bool = True

    def __init__(self, **params: Any) -> None:
        merged = {**self.defaults, **params}
        self.params = merged
        self.agg = merged.get("agg", "mean")
        if self.estimate is not None and self.agg not in AGGS:
            raise ValueError(f"{self.name}: agg {self.agg!r} is not one of {AGGS}")
        self.include_t0 = bool(merged.get("include_t0", True))

    def t0_entry(self, dt0: Any, normalizer: float) -> Any:
        """The entry recorded at t0 (before any step)."""
        raise NotImplementedError

    def aggregate(self, acc: Any) -> Any:
        total, peak, count = acc
        if self.agg == "sum":
            return total
        if self.agg == "max":
            return peak
        return total / count

    def make_train(self, field, solver, ctrl, adjoint):
        """``train(params, probe, z0, ts, key) -> (ys, R, SolveOut, extra forward NFE)``: the
        training solve (default: the estimating solve; ERNODE/SRNODE accumulate in it)."""
        from ndebench_jax.solvers.loop import make_solve

        solve = make_solve(field, solver, ctrl, adjoint, self if self.estimate else None)

        def train(params, probe, z0, ts, key):
            out = solve(params, probe, z0, ts)
            return out.ys, out.reg, out, 0

        return train
