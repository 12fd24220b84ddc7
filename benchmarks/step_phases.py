"""Where a torch training step's time goes: forward solve and loss, backward pass, optimizer,
and the part of all of it spent inside compiled calls without dynamo.

One session of the task's cell (as ``task_step_time.py`` builds it, Tsit5, rtol = atol =
1e-6, float32, one thread) takes ``--steps`` training steps after ``--warmup`` steps; per step
the forward (``_objective``: the solve and the loss), the backward pass (``backward()``: the
adjoint's backward) and ``optimizer.step()`` are timed, and the calls of
:class:`~ndebench_torch.solvers.direct_compile.DirectCompiled` (inductor's generated code and
its call wrappers: the compiled step of solves without gradient, the checkpointed adjoint's
fused VJPs) are timed and counted. Medians over the timed steps are printed; "python" is the
step's time outside those calls (the solver loop, eager operations, the autograd engine's
walk of the eager graph, the optimizer). ``--quick``: 2 steps of the eager checkpointed entry
(nothing compiled; CI).

    python benchmarks/step_phases.py [--entry torch_compiled_checkpointed] [--task spiral]
        [--steps 20] [--warmup 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from task_step_time import ENTRIES, TASK_PARAMS, sessions, task_of

from ndebench.plugins import load_registry


class CallClock:
    """Time and count the calls of ``DirectCompiled`` (wrapped for this process)."""

    def __init__(self) -> None:
        from ndebench_torch.solvers.direct_compile import DirectCompiled

        self.seconds, self.calls = 0.0, 0
        inner = DirectCompiled.__call__

        def timed(obj: Any, *inputs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(obj, *inputs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        DirectCompiled.__call__ = timed  # type: ignore[method-assign]

    def take(self) -> tuple[float, int]:
        out = (self.seconds, self.calls)
        self.seconds, self.calls = 0.0, 0
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entry", default="torch_compiled_checkpointed", choices=sorted(ENTRIES))
    ap.add_argument("--task", default="spiral", choices=sorted(TASK_PARAMS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 steps, eager checkpointed")
    ap.add_argument("--out", help="also write the medians as JSON to this file")
    args = ap.parse_args()
    entry, steps, warmup = args.entry, args.steps, args.warmup
    if args.quick:
        entry, steps, warmup = "torch_checkpointed", 2, 1
    if ENTRIES[entry][0] != "torch":
        raise SystemExit(f"--entry {entry}: a torch entry of {sorted(ENTRIES)}")
    clock = CallClock()
    task, batch_size = task_of(args.task)
    setup, session = sessions(task, TASK_PARAMS[args.task], load_registry(), [entry])[entry]
    data = setup.task.data(0)
    rows: dict[str, list[float]] = {}
    for step in range(warmup + steps):
        batch = setup.task.train_batch(data, step, 0, batch_size)
        clock.take()
        t0 = time.perf_counter()
        total, _, _, _, nfe = session._objective(batch, step, 0.0)
        t1 = time.perf_counter()
        forward_compiled, forward_calls = clock.take()
        session.optimizer.zero_grad(set_to_none=True)
        total.backward()
        t2 = time.perf_counter()
        session.optimizer.step()
        t3 = time.perf_counter()
        backward_compiled, backward_calls = clock.take()
        if step < warmup:
            continue
        compiled = forward_compiled + backward_compiled
        for name, value in {
            "forward + loss": t1 - t0,
            "backward": t2 - t1,
            "optimizer": t3 - t2,
            "step": t3 - t0,
            "in compiled calls": compiled,
            "python (step - compiled)": t3 - t0 - compiled,
            "compiled calls, forward": forward_calls,
            "compiled calls, backward": backward_calls,
            "forward NFE": nfe,
        }.items():
            rows.setdefault(name, []).append(value)
    print(f"{args.task}, {entry}, median of {steps} steps after {warmup}")
    print("| phase | ms per step (or count) |")
    print("|---|---:|")
    medians = {}
    for name, values in rows.items():
        counted = name.startswith("compiled calls") or "NFE" in name
        medians[name] = med = statistics.median(values) * (1 if counted else 1e3)
        print(f"| {name} | {med:g} |" if counted else f"| {name} | {med:.2f} |")
    if args.out:
        doc = {"task": args.task, "entry": entry, "steps": steps, "warmup": warmup}
        Path(args.out).write_text(json.dumps({**doc, "median_ms_or_count": medians}, indent=1))


if __name__ == "__main__":
    main()
