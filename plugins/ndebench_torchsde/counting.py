"""Step counts of a torchsde solve, read from its Brownian queries.

torchsde exposes no step statistics. Every solver step queries the path once on its
interval, so a ``BrownianInterval`` that records its queries gives them: fixed step, one query
per step; adaptive, three per attempt (full step, two half steps), and an attempt is accepted
iff the next attempt starts where it ended (a rejected attempt is retried from its start).
"""

from __future__ import annotations

from typing import Any

import torchsde


class RecordingBrownianInterval(torchsde.BrownianInterval):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries: list[tuple[float, float]] = []

    def __call__(
        self, ta: Any, tb: Any = None, return_U: bool = False, return_A: bool = False
    ) -> Any:
        if tb is not None:
            self.queries.append((float(ta), float(tb)))
        return super().__call__(ta, tb, return_U=return_U, return_A=return_A)

    def steps(self, adaptive: bool) -> tuple[int, int, list[float]]:
        """(accepted, rejected, accepted step end times) of the solve so far."""
        if not adaptive:
            return len(self.queries), 0, [tb for _, tb in self.queries]
        attempts = self.queries[0::3]
        acc, ends = 0, []
        for k, (ta, tb) in enumerate(attempts):
            if k + 1 == len(attempts) or attempts[k + 1][0] != ta:
                acc += 1
                ends.append(tb)
        return acc, len(attempts) - acc, ends
