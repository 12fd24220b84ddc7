"""torchode's ``Tsit5`` with per-sample step control."""

from __future__ import annotations

import torchode as to

from ndebench_torchode.solver import AbstractTorchodeSolver


class TorchodeTsit5(AbstractTorchodeSolver):
    """Tsitouras 5(4): order 5, 7 stages, FSAL; torchode's free 4th-order interpolant."""

    name = "torchode_tsit5"
    method = to.Tsit5
