"""Inductor's CPU vector-ISA probe, run once in the local executor's fork server (imported as
a ``preload_compiled`` module of the torch backend) instead of in every compiled cell.

Before inductor generates its first CPU kernel in a process it decides which vector instruction
set the generated C++ may use (``torch._inductor.cpu_vec_isa.pick_vec_isa``): for each
candidate ISA that the CPU's flags list (here AVX-512 VNNI, AVX-512 and its BF16 variant, AVX2)
it builds a probe library with that ISA's flags and starts a Python child that loads it. That
cost about 1.0 s per process on a 2-core AMD EPYC machine (``pick_vec_isa()`` alone, 1.05 s,
probe libraries already built), every time, cached only for the process: in a warm compiled
spiral cell it was more than half of the first training step (1.81-1.87 s with it, 0.86-0.98 s
with the probe already made; ``torch_compiled``, caches warm, same process otherwise).
Importing this module makes the probe; cells forked from the fork server inherit its answer
(inductor keeps it in ``functools`` caches of that module), as a warm worker keeps it across
its cells.

The probe libraries are built where inductor builds them for the fork server's environment
(``TORCHINDUCTOR_CACHE_DIR``, else inductor's default directory under the system's temporary
directory), not in the run's results directory: they depend on the machine and compiler
only. A probe that found no vector ISA at all (no C++ compiler, a cache directory that cannot
be written, a probe that timed out) is not kept: its caches are cleared, and each cell probes
for itself as before, rather than every cell of the run compiling scalar code.

Importing it starts no thread (``subprocess.run`` waits in the importing thread;
tests/test_preload.py).
"""

from __future__ import annotations

from types import ModuleType


def _clear_caches(module: ModuleType) -> None:
    """Clear every ``functools`` cache of ``module``'s functions and of its classes' methods."""
    for obj in vars(module).values():
        if hasattr(obj, "cache_clear"):
            obj.cache_clear()
        if isinstance(obj, type):
            for attr in vars(obj).values():
                if hasattr(attr, "cache_clear"):
                    attr.cache_clear()


def probe() -> str:
    """Run inductor's probe in this process; the ISA it picked ("" if none, then not kept)."""
    from torch._inductor import cpu_vec_isa

    try:
        isa = cpu_vec_isa.pick_vec_isa()
    except Exception:  # a probe that cannot run here: each cell probes for itself
        isa = cpu_vec_isa.invalid_vec_isa
    if not isa:
        _clear_caches(cpu_vec_isa)
        return ""
    return str(isa)


PICKED = probe()
