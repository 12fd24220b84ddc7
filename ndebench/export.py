"""``ndebench export DIR --format parquet|csv --out FILE``: the results table as one file.

The table is exactly :func:`ndebench.store.load_results` (one row per cell). Parquet keeps
every column's dtype (pandas metadata in the file). CSV is text: next to it goes
``FILE.dtypes.json`` with each column's dtype, which :func:`read_export` applies to the
numeric columns (text comes back as the CSV reader gives it: an empty message as missing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ndebench.errors import InputError

FORMATS = ("parquet", "csv")


def _format_of(out: Path, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    suffix = out.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise InputError(
        f"--out {out}: cannot tell the format from the suffix; give --format "
        f"(allowed: {', '.join(FORMATS)})"
    )


def export_results(results_dir: Path, out: Path, fmt: str | None = None) -> Path:
    """Write the results table of ``results_dir`` to ``out``; return ``out``."""
    from ndebench.report.files import write_text_atomic, write_with_atomic
    from ndebench.store import load_results

    fmt = _format_of(out, fmt)
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: allowed values are {', '.join(FORMATS)}")
    suffix = out.suffix.lower().lstrip(".")
    if suffix in FORMATS and suffix != fmt:
        raise InputError(
            f"--out {out}: the suffix says {suffix} but --format is {fmt} "
            f"(allowed: a .{fmt} file or another suffix)"
        )
    df = load_results(results_dir)
    if df.empty:
        raise InputError(f"{results_dir}: no results to export")
    if fmt == "parquet":
        df = _without_empty_structs(df)
        write_with_atomic(out, lambda p: df.to_parquet(p, index=False, engine="pyarrow"))
    else:
        write_with_atomic(out, lambda p: df.to_csv(p, index=False))
        dtypes = {c: str(t) for c, t in df.dtypes.items()}
        write_text_atomic(_dtypes_path(out), json.dumps(dtypes, indent=1))
    return out


def _without_empty_structs(df: Any) -> Any:
    """Parquet cannot store a struct with no field: a column whose values are all empty
    dicts (a ``none`` regularizer's record) is stored as the JSON text ``{}``."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype != object:
            continue
        values = [v for v in df[col] if v is not None and not (isinstance(v, float) and v != v)]
        if values and all(isinstance(v, dict) and not v for v in values):
            df[col] = df[col].map(lambda v: json.dumps(v) if isinstance(v, dict) else v)
    return df


def _dtypes_path(out: Path) -> Path:
    return out.with_name(out.name + ".dtypes.json")


def read_export(path: str | Path) -> Any:
    """Read an exported file back as a DataFrame with the dtypes it was written with."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    sidecar = _dtypes_path(path)
    if not sidecar.is_file():
        return pd.read_csv(path)
    dtypes: dict[str, str] = json.loads(sidecar.read_text())
    # text and object columns (booleans with gaps) are left to the CSV reader
    kept = {c: t for c, t in dtypes.items() if t not in ("object", "str", "string")}
    return pd.read_csv(path, dtype=kept)
