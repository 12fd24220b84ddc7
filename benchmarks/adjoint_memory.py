"""Bytes a training solve keeps for its backward pass, per accepted step: discrete vs
checkpointed adjoint (torch, own Dopri5, MLP 2-64-64-2 field, float32, rtol = atol = 1e-6).

Counted exactly, not from the resident set: for each adjoint, the storages packed by autograd's
saved-tensor hook during the solve (distinct storages; for the discrete adjoint every stage's
activations, the error estimate and the dense output of each step, rejected attempts
included while they live) plus, for the checkpointed adjoint, the checkpoints it keeps itself
(``y_n`` and ``k1_n`` of every accepted step, ``Solution.extras["checkpoint_bytes"]``).
``benchmarks/perf.py``'s memory table gives the peak resident-set growth of the same solves.

    python benchmarks/adjoint_memory.py [--quick] [--batch 256] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from ndebench_torch.adjoints.checkpointed import CheckpointedAdjoint
from ndebench_torch.adjoints.discrete import DiscreteAdjoint
from ndebench_torch.model import build_parts
from ndebench_torch.solvers.dopri5 import Dopri5
from ndebench_torch.vector_field import CountedField

from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.models import MLP, ModelSpec


def kept_bytes(adjoint: Any, module: torch.nn.Module, z0: torch.Tensor, t_end: float) -> dict:
    storages: dict[int, int] = {}

    def pack(x: torch.Tensor) -> torch.Tensor:
        st = x.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return x

    ts = list(np.linspace(0.0, t_end, 11))
    solver = Dopri5(StepSizeController(rtol=1e-6, atol=1e-6))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        sol = adjoint.solve(solver, CountedField(module), z0, ts, params=list(module.parameters()))
    saved = sum(storages.values())
    own = int(sol.extras.get("checkpoint_bytes", 0))
    return {"adjoint": adjoint.name, "batch": z0.shape[0], "t_end": t_end,
            "accepted": sol.n_accepted, "rejected": sol.n_rejected, "graph_bytes": saved,
            "checkpoint_bytes": own,
            "bytes_per_accepted_step": (saved + own) / max(sol.n_accepted, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 16, one end time")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", help="also write the rows as JSON to this file")
    args = ap.parse_args()
    batch = 16 if args.quick else args.batch
    t_ends = [1.0] if args.quick else [1.0, 10.0, 100.0]
    spec = ModelSpec(kind="node_trajectory", parts={"vector_field": MLP.of([2, 64, 64, 2])},
                     state_dim=2)  # fmt: skip
    module = build_parts(spec, init_params(spec, 0), torch.float32, "cpu")["vector_field"]
    z0 = torch.as_tensor(np.random.default_rng(0).standard_normal((batch, 2)), dtype=torch.float32)
    rows = []
    print("| adjoint | batch | t1 | accepted (rejected) | kept bytes | bytes per accepted step |")
    print("|---|---:|---:|---:|---:|---:|")
    for t_end in t_ends:
        for adjoint in (DiscreteAdjoint(), CheckpointedAdjoint()):
            r = kept_bytes(adjoint, module, z0, t_end)
            rows.append(r)
            total = r["graph_bytes"] + r["checkpoint_bytes"]
            print(f"| {r['adjoint']} | {batch} | {t_end:g} | {r['accepted']} ({r['rejected']}) "
                  f"| {total} | {r['bytes_per_accepted_step']:.0f} |")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
