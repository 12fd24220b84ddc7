"""``ndebench asv-page [RESULTS] [--out FILE]``: asv's results as one offline HTML page.

``asv publish`` writes a page that loads jQuery, flot and bootstrap from CDNs: offline it is
blank. This page is drawn from the same files, asv's results JSON (``RESULTS/<machine>/
<commit>-<env>.json``, format version 2, and ``RESULTS/benchmarks.json`` for units and
parameter names), with nothing asv's page needs: inline CSS, figures embedded as PNG, no
scripts, no network. Per benchmark and machine: a table of the last ``last`` commits (median
and asv's 99% interval where recorded, ``n/a`` for a skipped combination, ``failed`` for a
failed one) and, with two or more commits, the history as a figure.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ndebench.errors import InputError

RESULTS_VERSION = 2
GENERATOR = '<meta name="generator" content="ndebench asv-page">'
#: lines drawn per figure (a figure with more parameter combinations shows the first ones)
MAX_LINES = 12


@dataclass(frozen=True)
class Point:
    """One value of one benchmark at one parameter combination in one results file."""

    machine: str
    commit: str
    date: float  # JavaScript timestamp (ms), asv's commit date
    benchmark: str
    params: tuple[tuple[str, str], ...]
    value: float | None  # None: skipped (n/a); NaN: failed
    low: float | None = None
    high: float | None = None


def _label(value: Any) -> str:
    """asv stores parameter values as their repr: ``"'torch'"`` -> ``torch``."""
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _column(rec: dict[str, Any], key: str, n: int) -> list[Any]:
    values = rec.get(key)
    return list(values) if isinstance(values, list) and len(values) == n else [None] * n


def read_results(results_dir: Path) -> tuple[list[Point], dict[str, Any]]:
    """Every value in ``results_dir`` and the benchmarks' metadata (``benchmarks.json``)."""
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: no such asv results directory (asv run writes it)")
    meta_path = results_dir / "benchmarks.json"
    benchmarks: dict[str, Any] = {}
    if meta_path.is_file():
        benchmarks = {k: v for k, v in json.loads(meta_path.read_text()).items()
                      if isinstance(v, dict)}  # fmt: skip
    points: list[Point] = []
    for path in sorted(results_dir.glob("*/*.json")):
        if path.name == "machine.json":
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not an asv results file ({exc})") from None
        if doc.get("version") != RESULTS_VERSION:
            raise InputError(
                f"{path}: asv results format version {doc.get('version')!r}; this page reads "
                f"version {RESULTS_VERSION} (asv 0.5 and later; `asv update` converts older files)"
            )
        machine = str(doc.get("params", {}).get("machine") or path.parent.name)
        columns = doc.get("result_columns", [])
        for name, row in doc.get("results", {}).items():
            rec = dict(zip(columns, row, strict=False))
            params = rec.get("params") or []
            combos = list(itertools.product(*params)) if params else [()]
            values = _column(rec, "result", len(combos))
            lows = _column(rec, "stats_ci_99_a", len(combos))
            highs = _column(rec, "stats_ci_99_b", len(combos))
            names = benchmarks.get(name, {}).get("param_names") or [
                f"param{i + 1}" for i in range(len(params))
            ]
            for i, combo in enumerate(combos):
                points.append(
                    Point(
                        machine=machine,
                        commit=str(doc.get("commit_hash", "")),
                        date=float(doc.get("date") or 0),
                        benchmark=name,
                        params=tuple(zip(names, map(_label, combo), strict=False)),
                        value=_number(values[i]),
                        low=_number(lows[i]),
                        high=_number(highs[i]),
                    )
                )
    if not points:
        raise InputError(f"{results_dir}: no asv results files (<machine>/<commit>-<env>.json)")
    return points, benchmarks


def _scale(unit: str, values: list[float]) -> tuple[float, str]:
    """(divisor, unit label) that keeps the typical value readable."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    typical = sorted(finite)[len(finite) // 2] if finite else 1.0
    steps = {
        "seconds": [(1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s")],
        "bytes": [(1.0, "B"), (2**10, "KiB"), (2**20, "MiB"), (2**30, "GiB")],
    }.get(unit)
    if steps is None:
        return 1.0, unit
    chosen = steps[0]
    for step in steps:
        if typical >= step[0]:
            chosen = step
    return chosen


def _cell(point: Point | None, divisor: float) -> str:
    from ndebench.report.html import esc

    if point is None:
        return '<td class="num muted">-</td>'
    if point.value is None:
        return '<td class="num muted">n/a</td>'
    if math.isnan(point.value):
        return '<td class="num">failed</td>'
    text = f"{point.value / divisor:.4g}"
    if point.low is not None and point.high is not None and math.isfinite(point.low):
        text += (
            f' <span class="muted">[{point.low / divisor:.3g}, {point.high / divisor:.3g}]</span>'
        )
    return f'<td class="num" title="{esc(point.commit)}">{text}</td>'


def _figure(series: dict[str, list[tuple[int, float]]], labels: list[str], ylabel: str) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), dpi=100)
    ax = fig.add_subplot()
    for name, xy in list(series.items())[:MAX_LINES]:
        xs = [x for x, _ in xy]
        ax.plot(xs, [y for _, y in xy], marker="o", ms=3, lw=1.2, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure><img alt="history" src="data:image/png;base64,{data}"></figure>'


def _section(name: str, points: list[Point], meta: dict[str, Any], last: int) -> str:
    from ndebench.report.html import esc

    unit = str(meta.get("unit") or "")
    divisor, label = _scale(unit, [p.value for p in points if p.value is not None])
    parts = [f'<section id="{esc(name)}"><h2>{esc(name)}</h2>']
    for machine in sorted({p.machine for p in points}):
        mine = [p for p in points if p.machine == machine]
        commits = sorted({(p.date, p.commit) for p in mine})[-last:]
        order = [c for _, c in commits]
        combos = sorted({p.params for p in mine})
        by_key = {(p.params, p.commit): p for p in mine}
        skipped = [c for c in combos if all(
            by_key.get((c, k)) is None or by_key[(c, k)].value is None for k in order)]  # fmt: skip
        shown = [c for c in combos if c not in skipped]
        heads = "".join(
            f"<th>{esc(c[:8])}<br><span class='muted'>{_date(d)}</span></th>" for d, c in commits
        )
        names = [n for n, _ in combos[0]] if combos else []
        rows = []
        for combo in shown:
            cells = "".join(f"<td>{esc(v)}</td>" for _, v in combo)
            cells += "".join(_cell(by_key.get((combo, k)), divisor) for k in order)
            rows.append(f"<tr>{cells}</tr>")
        param_heads = "".join(f"<th>{esc(n)}</th>" for n in names)
        parts.append(
            f"<h3>machine {esc(machine)}</h3><p class='muted'>unit: {esc(label or unit or '-')}"
            f"; {len(order)} commit(s), oldest first; [99% interval] where asv recorded one"
            + (f"; {len(skipped)} combination(s) n/a in every commit, not shown" if skipped else "")
            + "</p>"
        )
        if rows:
            parts.append(
                f'<div class="table-wrap"><table><thead><tr>{param_heads}{heads}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>"
            )
        series: dict[str, list[tuple[int, float]]] = {}
        for combo in shown:
            found = [(i, by_key[(combo, k)].value) for i, k in enumerate(order)
                     if (combo, k) in by_key]  # fmt: skip
            xy = [(i, v / divisor) for i, v in found if v is not None and math.isfinite(v)]
            if xy:
                series[", ".join(v for _, v in combo) or name] = xy
        if len(order) >= 2 and series:
            parts.append(_figure(series, [k[:8] for k in order], label or unit))
    parts.append("</section>")
    return "\n".join(parts)


def _date(ms: float) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def render_page(results_dir: Path, last: int = 8) -> str:
    """The whole page for the results in ``results_dir``."""
    from ndebench.report.html import CSS, esc

    points, benchmarks = read_results(results_dir)
    names = sorted({p.benchmark for p in points})
    machines = sorted({p.machine for p in points})
    commits = {p.commit for p in points}
    nav = "\n".join(f'<a href="#{esc(n)}">{esc(n)}</a>' for n in names)
    body = "\n".join(
        _section(n, [p for p in points if p.benchmark == n], benchmarks.get(n, {}), last)
        for n in names
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'{GENERATOR}\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>asv results</title><style>{CSS}</style></head><body>\n"
        "<h1>asv results</h1>\n"
        f'<p class="muted">{len(names)} benchmark(s), {len(commits)} commit(s), machine(s) '
        f"{esc(', '.join(machines))}, from {esc(results_dir)}. Drawn by <code>ndebench "
        "asv-page</code> from asv's results JSON: no scripts and no network (asv's own page, "
        "<code>asv publish</code>, loads its JavaScript from CDNs).</p>\n"
        f"<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def write_page(results_dir: Path, out: Path, last: int = 8, force: bool = False) -> Path:
    """Write the page to ``out``: a file this command wrote before is replaced, any other
    existing file only with ``force``."""
    from ndebench.atomic import write_text_atomic

    if last < 1:
        raise InputError(f"--last {last}: must be at least 1")
    if out.is_dir():
        raise InputError(f"--out {out}: is a directory")
    if out.exists() and not force:
        head = out.read_bytes()[:600].decode("utf-8", "replace")
        if GENERATOR not in head:
            raise InputError(f"--out {out}: exists and was not written by asv-page (--force)")
    page = render_page(results_dir, last)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, page)
    return out
