"""The seed papers' per-task results as data (``tables.toml`` beside this module).

A task declares which paper task it stands for (:attr:`ndebench.tasks.base.AbstractTask.
paper_task`: ``mnist_node``, ``mnist_sde``, ``physionet_latent_ode``, ``cifar10_standard``,
...); a method is named as ndebench names it. :func:`paper_result` answers "what did the paper
find for this method on this task": the paper's ratios to its own vanilla (test NFE,
prediction time, training time), its metric difference, and its finding on NFE
(``reduces``, ``none`` for its own negative results, ``not presented`` for methods it ran
without presenting numbers). No row: no paper claim.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TABLES = Path(__file__).with_name("tables.toml")
EFFECTS = ("reduces", "none", "not presented")
#: the quantities a paper row holds, by the result column they compare with
QUANTITIES = {
    "predict_nfe": "nfe",
    "predict_time_s": "predict_time",
    "train_time_s": "train_time",
}


@dataclass(frozen=True)
class PaperResult:
    """One method on one paper task, next to the same table's vanilla."""

    paper: str
    task: str
    title: str
    method: str
    effect: str
    settings: str
    metric: str
    metric_unit: str
    lower_is_better: bool
    #: method / vanilla of test NFE, prediction time and training time (NaN if not given)
    ratios: dict[str, float]
    #: the method's test metric minus vanilla's, in the paper's unit (pp for accuracy)
    metric_difference: float
    #: the same table's vanilla test metric, in the paper's unit
    vanilla_metric: float

    @property
    def claim(self) -> bool:
        return self.effect in ("reduces", "none")

    @property
    def nfe_ratio(self) -> float:
        return self.ratios["predict_nfe"]

    def within_margin(self, margin: float) -> bool:
        """Whether the paper's own test metric stayed within ``margin`` of its vanilla's
        (absolute in fractions for accuracy, relative for lower-is-better metrics): its
        NFE claim is then one at matched accuracy. True when the paper gives no metric."""
        diff = self.metric_difference
        if not math.isfinite(diff):
            return True
        if self.lower_is_better:
            return bool(diff <= margin * abs(self.vanilla_metric))
        scale = 100.0 if self.metric_unit == "%" else 1.0
        return bool(diff / scale >= -margin)


def _number(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else float("nan")


@cache
def paper_results() -> tuple[PaperResult, ...]:
    """Every method row of every table (vanilla rows excluded), in file order."""
    raw = tomllib.loads(TABLES.read_text(encoding="utf-8"))
    out: list[PaperResult] = []
    for table in raw["table"]:
        rows = table["rows"]
        vanilla = next(r for r in rows if r["method"] == "none")
        for row in rows:
            if row["method"] == "none":
                continue
            if row["effect"] not in EFFECTS:
                raise ValueError(f"{TABLES}: effect {row['effect']!r} not in {EFFECTS}")
            ratios = {}
            for column, key in QUANTITIES.items():
                base = _number(vanilla, key)
                value = _number(row, key)
                ratios[column] = value / base if base and math.isfinite(base) else float("nan")
            out.append(
                PaperResult(
                    paper=table["paper"],
                    task=table["task"],
                    title=table["title"],
                    method=row["method"],
                    effect=row["effect"],
                    settings=table.get("settings", ""),
                    metric=table["metric"],
                    metric_unit=table.get("metric_unit", ""),
                    lower_is_better=bool(table["lower_is_better"]),
                    ratios=ratios,
                    metric_difference=_number(row, "test_metric") - _number(vanilla, "test_metric"),
                    vanilla_metric=_number(vanilla, "test_metric"),
                )
            )
    return tuple(out)


def paper_tasks() -> frozenset[str]:
    """Every paper task the tables name."""
    return frozenset(r.task for r in paper_results())


def paper_result(paper_task: str | None, method: str) -> PaperResult | None:
    """The paper's result for ``method`` on ``paper_task`` (the earliest paper that presents
    it: the 2023 tables copy the 2021 rows they share), or None: no paper claim."""
    if not paper_task:
        return None
    for result in paper_results():
        if result.task == paper_task and result.method == method:
            return result
    return None
