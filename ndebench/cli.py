"""``ndebench run | report | compare | export | list | doctor``.

Exit codes: 0 every cell ok or unsupported; 1 some cell failed (failed, crashed, timeout,
diverged, oom); 2 bad input (suite file, plugin name, flag, results directory), with a
one-line message and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ndebench.errors import InputError
from ndebench.paths import check_output, terminal_text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


class _Parser(argparse.ArgumentParser):
    """Bad flags give one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ndebench", description="Benchmarks for neural differential equations.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a suite file, storing one result per cell")
    run.add_argument("suite", help="suite .toml file")
    run.add_argument("--out", help="results directory (default results/<suite name>)")
    run.add_argument("--resume", action="store_true", help="skip cells already stored")
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="with or without --resume: re-run failed/crashed/timeout/oom cells",
    )
    run.add_argument("--workers", type=_positive_int, default=1, help="parallel cells (default 1)")
    run.add_argument("--executor", choices=["local", "dask", "submitit"], default="local")
    run.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    slurm = run.add_argument_group("submitit/SLURM (with --executor submitit)")
    slurm.add_argument(
        "--submitit-folder",
        default=None,
        help="submitit's log/pickle folder on a shared file system (default <out>/.submitit)",
    )
    slurm.add_argument(
        "--submitit-cluster",
        choices=["slurm", "local", "debug"],
        default=None,
        help="default: slurm if available, else local",
    )
    slurm.add_argument("--slurm-partition", default=None)
    slurm.add_argument("--slurm-gpus-per-cell", type=int, default=0)
    slurm.add_argument("--slurm-cpus-per-cell", type=_positive_int, default=1)
    slurm.add_argument("--slurm-array-parallelism", type=_positive_int, default=16)
    run.add_argument(
        "--ignore-claims",
        action="store_true",
        help="run cells even if another run claims them (only when no other run is using "
        "the directory; claims otherwise expire 2 min after their run stops)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument(
        "--strict-plugins", action="store_true", help="a plugin that fails to load is an error"
    )

    report = sub.add_parser("report", help="write a report from stored results (runs nothing)")
    report.add_argument("results", help="results directory")
    report.add_argument(
        "--out", help="report directory (default RESULTS/report, next to the results)"
    )
    report.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        help="the summary's test-metric tolerance relative to the baseline (default 0.05)",
    )

    cmp = sub.add_parser("compare", help="a verdict per configuration from results A to results B")
    cmp.add_argument("a", help="baseline results directory")
    cmp.add_argument("b", help="new results directory")
    cmp.add_argument(
        "--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)"
    )
    cmp.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[METRIC=]FRACTION",
        help="minimum relative change to flag, for one metric (predict_time_s=0.1) or all "
        "(0.1); repeatable; defaults: times 0.25, memory 0.10, NFE and test metric 0.05",
    )
    cmp.add_argument("--all", action="store_true", help="show unchanged configurations too")
    cmp.add_argument("--out", help="also write the markdown to this file")
    cmp.add_argument("--force", action="store_true", help="overwrite an existing --out file")

    exp = sub.add_parser("export", help="write the results table to a parquet or CSV file")
    exp.add_argument("results", help="results directory")
    exp.add_argument("--format", choices=["parquet", "csv"], default=None)
    exp.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    exp.add_argument("--force", action="store_true", help="overwrite an existing --out file")

    page = sub.add_parser(
        "asv-page",
        help="an offline HTML page of asv's results (asv publish's page needs its JavaScript "
        "from CDNs)",
    )
    page.add_argument(
        "results",
        nargs="?",
        default=".asv/results",
        help="asv results directory (default .asv/results, asv.conf.json's results_dir)",
    )
    page.add_argument("--out", default=".asv/offline.html", help="default .asv/offline.html")
    page.add_argument("--last", type=_positive_int, default=8, help="commits per table (default 8)")
    page.add_argument("--force", action="store_true", help="overwrite a file it did not write")

    lst = sub.add_parser("list", help="installed plugins, what they support, load failures")
    lst.add_argument("--strict-plugins", action="store_true")

    sub.add_parser("doctor", help="check this installation and say what to fix")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            return _report(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "export":
            return _export(args)
        if args.command == "list":
            return _list(args)
        if args.command == "asv-page":
            from ndebench.asv_page import write_page

            path = write_page(Path(args.results), Path(args.out), args.last, args.force)
            print(f"page written to {terminal_text(path)}")
            return 0
        if args.command == "doctor":
            from ndebench.doctor import doctor

            return doctor()
    except InputError as exc:
        print(f"ndebench: error: {terminal_text(exc)}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "ndebench: interrupted; finished cells are stored (resume with --resume)",
            file=sys.stderr,
        )
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


def _run(args: argparse.Namespace) -> int:
    from ndebench.plugins import load_registry
    from ndebench.progress import Progress
    from ndebench.runner import idle_backend_warnings, plan, run_suite
    from ndebench.store import Store
    from ndebench.suite import load_suite

    reg = load_registry(strict=args.strict_plugins)
    suite = load_suite(args.suite, reg)
    errors = reg.settings_errors(cell.backend for cell in suite.cells)
    if errors:
        raise InputError("; ".join(errors))
    out = Path(args.out) if args.out else Path("results") / suite.name
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if args.executor == "dask" and not args.scheduler:
        raise InputError("--executor dask needs --scheduler tcp://HOST:PORT")
    if args.scheduler and args.executor != "dask":
        raise InputError("--scheduler is only used with --executor dask")
    if args.dry_run:
        store = Store(out)
        return _dry_run(plan(suite, store, reg, args.resume, args.retry_failed), out)
    # a scheduler is reached before anything is created (a wrong address leaves no directory)
    early = _executor(args, out) if args.executor == "dask" else None
    store = Store(out, create=True, ignore_claims=args.ignore_claims)
    store.save_suite(suite.name, Path(args.suite).read_text())
    executor = early or _executor(args, out)
    progress = Progress(quiet=args.quiet)
    try:
        summary = run_suite(
            suite,
            store,
            reg,
            executor,
            resume=args.resume,
            retry_failed=args.retry_failed,
            progress=progress,
            threads=_auto_threads(args),
        )
    finally:
        executor.close()
    for line in idle_backend_warnings(summary.idle_backends):
        print(f"ndebench: {line}", file=sys.stderr)
    for line in summary.lines():
        print(f"ndebench: {terminal_text(line)}", file=sys.stderr)
    if not args.quiet:
        print(f"results in {out}/ (report: ndebench report {out})", file=sys.stderr)
    return summary.exit_code


def _auto_threads(args: argparse.Namespace) -> int:
    """Cores per concurrent cell on this machine (remote executors decide for themselves): the
    cores this process may run on (its CPU set: a container's or ``taskset``'s limit), shared
    among the workers."""
    if args.executor != "local":
        return 0
    from ndebench.hardware import usable_cores

    return max(1, usable_cores() // int(args.workers))


def _executor(args: argparse.Namespace, out: Path):  # type: ignore[no-untyped-def]
    if args.executor == "submitit":
        from ndebench.executors.submitit import SlurmOptions, SubmititExecutor

        return SubmititExecutor(
            SlurmOptions(
                folder=args.submitit_folder or str(out / ".submitit"),
                cluster=args.submitit_cluster,
                partition=args.slurm_partition,
                gpus_per_cell=args.slurm_gpus_per_cell,
                cpus_per_cell=args.slurm_cpus_per_cell,
                array_parallelism=args.slurm_array_parallelism,
            )
        )
    if args.executor == "dask":
        from ndebench.executors.dask import DaskExecutor

        return DaskExecutor(args.scheduler)
    from ndebench.executors.local import LocalExecutor

    return LocalExecutor(workers=args.workers)


def _dry_run(planned: list, out: Path) -> int:  # type: ignore[type-arg]
    from collections import Counter

    counts = Counter(p.action for p in planned)
    for p in planned:
        extra = f": {p.reason}" if p.reason else ""
        print(f"{p.action:<12} {p.cell.label()}  [{p.key}]{extra}")
    print(
        f"{len(planned)} cells: "
        + ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
        + f"; results dir {out}"
    )
    from ndebench.runner import idle_backend_warnings, idle_backends

    for line in idle_backend_warnings(idle_backends(planned)):
        print(f"ndebench: {line}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    from ndebench.plugins import load_registry
    from ndebench.report import write_report

    if not 0 <= args.tolerance < 10:
        raise InputError(f"--tolerance {args.tolerance}: must be in [0, 10)")
    # by default next to the results (never onto committed files under the working directory)
    out = Path(args.out) if args.out else Path(args.results) / "report"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    _outside_store(out, (args.results,))
    try:
        path = write_report(
            Path(args.results), out, registry=load_registry(), tolerance=args.tolerance
        )
    except OSError as exc:
        where = exc.filename or out or "the report directory"
        raise InputError(f"{where}: cannot write the report ({exc.strerror or exc})") from None
    print(f"report written to {terminal_text(path)}")
    return 0


def _outside_store(out: Path, results: tuple[str, ...]) -> None:
    """Refuse a report directory inside a results store (an existing one is rewritten)."""
    if out.is_dir():
        check_output(out / "index.html", results, force=True)
    else:
        check_output(out, results, force=True)


def _thresholds(values: list[str]) -> dict[str, float]:
    from ndebench.compare import METRICS

    out: dict[str, float] = {}
    for text in values:
        name, _, number = text.rpartition("=")
        try:
            value = float(number)
        except ValueError:
            raise InputError(f"--threshold {text!r}: not [METRIC=]FRACTION") from None
        if not 0 <= value < 10:
            raise InputError(f"--threshold {text!r}: the fraction must be in [0, 10)")
        if name and name not in METRICS:
            raise InputError(
                f"--threshold {text!r}: unknown metric {name!r} (allowed: {', '.join(METRICS)})"
            )
        out.update({name: value} if name else dict.fromkeys(METRICS, value))
    return out


def _compare(args: argparse.Namespace) -> int:
    from ndebench.compare import check_comparable, compare, format_markdown

    for path in (args.a, args.b):
        if not Path(path).is_dir():
            raise InputError(f"{path}: no such results directory")
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha {args.alpha}: must be between 0 and 1")
    if args.out:
        check_output(args.out, (args.a, args.b), force=args.force)
    result = compare(Path(args.a), Path(args.b), args.alpha, _thresholds(args.threshold))
    check_comparable(result)  # no configuration in common: exit 2, not a passing gate
    text = format_markdown(result, show_all=args.all)
    print(terminal_text(text), end="")
    if args.out:
        from ndebench.atomic import write_text_atomic

        try:
            write_text_atomic(Path(args.out), terminal_text(text))
        except OSError as exc:
            raise InputError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    return 1 if result.regressions else 0


def _export(args: argparse.Namespace) -> int:
    from ndebench.export import export_results

    out = Path(args.out)
    check_output(out, (args.results,), force=args.force)
    check_output(out.with_name(out.name + ".dtypes.json"), (args.results,), force=True)
    try:
        path = export_results(Path(args.results), out, args.format)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    print(f"results written to {terminal_text(path)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ndebench.components import RegularizerInfo
    from ndebench.plugins import load_registry

    reg = load_registry(strict=args.strict_plugins)
    print("plugins:")
    for p in reg.plugins:
        print(f"  {p.name} {p.version} ({p.module})")
    for name, info in sorted(reg.backends.items()):
        reason = reg.backend_unavailable(name)
        versions = ", ".join(f"{k} {v}" for k, v in reg.framework_versions(name).items())
        state = f"UNAVAILABLE: {reason}" if reason else "available"
        print(f"\nbackend {name} [{info.plugin}] {versions} -- {state}")
        print(
            f"  modes: {', '.join(info.modes)}; devices: {', '.join(info.devices)}; "
            f"models: {', '.join(info.model_kinds)}"
        )
        for kind in ("solver", "adjoint", "regularizer"):
            items = [v for (b, _), v in reg.table(kind).items() if b == name]
            print(f"  {kind}s:")
            width = max([22, *(len(i.name) + 2 for i in items)])
            notes = _shared_task_notes(items)
            for item in sorted(items, key=lambda i: i.name):
                print(f"    {item.name:<{width}}{item.description}")
                facts = []
                if item.provides:
                    facts.append(f"provides {', '.join(sorted(item.provides))}")
                if item.requires:
                    facts.append(f"requires {', '.join(sorted(item.requires))}")
                if item.defaults:
                    facts.append(
                        "params " + ", ".join(f"{k}={v!r}" for k, v in item.defaults.items())
                    )
                if isinstance(item, RegularizerInfo):
                    for key, bad in item.unsupported_values.items():
                        facts += [f"unsupported {key}={v!r}: {why}" for v, why in bad.items()]
                    facts += [
                        f"not on tasks requiring {need}: "
                        + (
                            f"see note {notes.index((need, why)) + 1}"
                            if (need, why) in notes
                            else why
                        )
                        for need, why in sorted(item.unsupported_requirements.items())
                    ]
                for fact in facts:
                    print(f"    {'':<{width}}{fact}")
            for i, (need, why) in enumerate(notes, 1):
                print(f"    note {i} (tasks requiring {need}): {why}")
    print("\ntasks:")
    for name, cls in sorted(reg.tasks.items()):
        print(f"  {name:<30}{cls.description} (metric {cls.metric_name})")
    if reg.failures:
        print("\nplugins that failed to load:")
        for f in reg.failures:
            print(f"  {f.name} ({f.target}): {f.error}")
    return 0


def _shared_task_notes(items: Sequence[Any]) -> list[tuple[str, str]]:
    """The (requirement, reason) pairs that two or more regularizers of one backend declare
    alike: ``list`` prints each once, as a numbered note, instead of on every line."""
    from collections import Counter

    from ndebench.components import RegularizerInfo

    counts = Counter(
        pair
        for item in items
        if isinstance(item, RegularizerInfo)
        for pair in item.unsupported_requirements.items()
    )
    return sorted(pair for pair, n in counts.items() if n > 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
