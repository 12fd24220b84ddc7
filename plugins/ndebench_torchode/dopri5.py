"""torchode's ``Dopri5`` with per-sample step control."""

from __future__ import annotations

import torchode as to

from ndebench_torchode.solver import AbstractTorchodeSolver


class TorchodeDopri5(AbstractTorchodeSolver):
    """Dormand-Prince 5(4): order 5, 7 stages, FSAL; torchode's 4th-order dense output."""

    name = "torchode_dopri5"
    method = to.Dopri5
