"""The core conformance kit (ndebench.testing) over every torch component."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from ndebench.testing import conformance_cases, run_check

pytestmark = pytest.mark.requires_torch

#: SRNODE's default R = max(1/normalizer, s_1, ..., s_N) (PAPERS.md section 2): on the kit's
#: tiny model every s_n is below the theta-independent t0 entry, so R is constant and its
#: gradient is exactly zero, which the kit's "R != 0 => gradient != 0" rule rejects.
KNOWN = {
    "torch:regularizer_gradient:srnode": "srnode's t0 floor dominates the max on the tiny model",
}


def _cases():
    for case in conformance_cases("torch"):
        reason = KNOWN.get(str(case))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        yield pytest.param(case, id=str(case), marks=marks)


@pytest.mark.parametrize("case", list(_cases()))
def test_conformance(case):
    run_check(case)
