"""``ndebench list`` states a reason shared by several regularizers of one backend once, as a
numbered note, instead of repeating it on every regularizer's lines."""

from __future__ import annotations

import re
from collections import Counter

from ndebench.cli import main
from ndebench.components import RegularizerInfo
from ndebench.plugins import load_registry


def test_shared_unsupported_reason_is_printed_once_per_backend(capsys) -> None:  # type: ignore[no-untyped-def]
    reg = load_registry()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    sections = re.split(r"\n(?=backend )", out)
    checked = 0
    for name in reg.backends:
        section = next(s for s in sections if s.startswith(f"backend {name} "))
        infos = [i for (b, _), i in reg.regularizers.items() if b == name]
        reasons = Counter(
            why for i in infos if isinstance(i, RegularizerInfo)
            for why in i.unsupported_requirements.values()
        )  # fmt: skip
        for why, n in reasons.items():
            assert section.count(why) == 1, (name, why[:60])
            if n > 1:
                checked += 1
                assert section.count("see note") >= n
    assert checked >= 1  # some backend shares one reason among several regularizers
