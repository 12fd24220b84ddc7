"""``ndebench export DIR --format parquet|csv --out FILE``: the results table as one file.

The table is exactly :func:`ndebench.store.load_results` (one row per cell), and
:func:`read_export` gives exactly that DataFrame back from either format: the same columns,
dtypes and values, including which missing values were ``None`` and which ``NaN`` in columns
of Python objects (tested on torch and JAX results).

What is written, and what a reader other than :func:`read_export` sees:

- numeric and boolean columns are stored natively (parquet) or as text that reads back to the
  same bits (CSV: floats in ``repr``, parsed round-trip);
- text columns are stored as text; CSV cannot tell an empty string from a missing value, so
  the positions of missing values are recorded (below);
- columns of Python objects holding dicts or lists (``x_regularizer_record``), or values of
  mixed types, are stored as JSON text per value (parquet would otherwise turn the dicts into
  one struct type, and every dict would gain the other rows' keys);
- per column of objects or text: the row positions of ``None`` and of ``NaN``.

The last two, with every column's dtype, are the *encoding*: in parquet it is the schema's
key-value metadata under ``ndebench``; for CSV the file ``FILE.dtypes.json`` beside it. So
``pd.read_parquet(FILE)`` alone gives the same table except that the JSON columns are text and
a missing value in a column of objects is ``None`` where the table may have had ``NaN``;
``pd.read_csv(FILE)`` alone gives text for every JSON column, ``NaN`` for every missing or
empty text, and types inferred from the text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ndebench.errors import InputError

FORMATS = ("parquet", "csv")
#: the key of the encoding in a parquet file's schema metadata
META_KEY = b"ndebench"
ENCODING_VERSION = 1


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
    write_table(df, out, fmt)
    return out


def write_table(df: Any, out: Path, fmt: str) -> None:
    """Write ``df`` (a default RangeIndex) so that :func:`read_export` gives it back."""
    from ndebench.atomic import write_text_atomic, write_with_atomic

    encoded, encoding = encode(df, fmt)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(encoded, preserve_index=False)
        meta = {**(table.schema.metadata or {}), META_KEY: json.dumps(encoding).encode()}
        table = table.replace_schema_metadata(meta)
        write_with_atomic(out, lambda p: pq.write_table(table, p))
    else:
        write_with_atomic(out, lambda p: encoded.to_csv(p, index=False))
        write_text_atomic(_dtypes_path(out), json.dumps(encoding, indent=1))


def _missing(value: Any) -> str | None:
    """``"none"``, ``"nan"`` or None (not missing)."""
    if value is None:
        return "none"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    try:  # pandas' NA and NaT
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return "nan"
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return None


def _kind(values: list[Any]) -> str:
    present = [v for v in values if _missing(v) is None]
    if all(isinstance(v, str) for v in present):
        return "text"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    return "json"


def _json(column: Any, value: Any) -> str:
    def plain(obj: Any) -> Any:
        if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
            return obj.item()
        raise InputError(
            f"column {column!r} holds a {type(obj).__name__}, which the export cannot store "
            "exactly (JSON values, dicts and lists only)"
        )

    return json.dumps(value, default=plain)


def encode(df: Any, fmt: str) -> tuple[Any, dict[str, Any]]:
    """(the frame to write, the encoding that :func:`decode` needs to undo it)."""
    import pandas as pd

    out = df.reset_index(drop=True).copy()
    columns: dict[str, Any] = {}
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        values = list(series)
        kind = _kind(values)
        marks = [_missing(v) for v in values]
        columns[str(col)] = {
            "kind": kind,
            "none": [i for i, m in enumerate(marks) if m == "none"],
            "nan": [i for i, m in enumerate(marks) if m == "nan"],
        }
        if kind == "json" or (kind == "bool" and fmt == "csv"):
            text = [None if m else _json(col, v) for v, m in zip(values, marks, strict=True)]
            out[col] = pd.Series(text, dtype=object)
    encoding = {
        "version": ENCODING_VERSION,
        "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
        "columns": columns,
    }
    return out, encoding


def decode(df: Any, encoding: dict[str, Any]) -> Any:
    """Undo :func:`encode` on a frame read back from a file."""
    import pandas as pd

    dtypes: dict[str, str] = encoding["dtypes"]
    for col, spec in encoding["columns"].items():
        raw = list(df[col])
        none, nan = set(spec["none"]), set(spec["nan"])
        values: list[Any] = []
        for i, v in enumerate(raw):
            if i in none:
                values.append(None)
            elif i in nan:
                values.append(float("nan"))
            elif spec["kind"] == "json" or (spec["kind"] == "bool" and isinstance(v, str)):
                values.append(json.loads(v))
            elif spec["kind"] == "text" and not isinstance(v, str):
                values.append("")  # CSV: an empty string reads as missing
            else:
                values.append(v)
        dtype = dtypes.get(col, "object")
        df[col] = pd.Series(values, dtype=object if dtype == "object" else dtype, index=df.index)
    return df


def _dtypes_path(out: Path) -> Path:
    return out.with_name(out.name + ".dtypes.json")


def read_export(path: str | Path) -> Any:
    """Read an exported file back as the DataFrame that was exported (dtypes, values and
    missing markers); a file written without an encoding is read as pandas reads it, with the
    numeric dtypes of an older flat ``.dtypes.json`` applied."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        df = pd.read_parquet(path, engine="pyarrow")
        meta = pq.read_schema(path).metadata or {}
        if META_KEY not in meta:
            return df
        return decode(df, json.loads(meta[META_KEY]))
    sidecar = _dtypes_path(path)
    if not sidecar.is_file():
        return pd.read_csv(path)
    encoding = json.loads(sidecar.read_text())
    if "version" not in encoding:  # the older flat {column: dtype} sidecar
        kept = {c: t for c, t in encoding.items() if t not in ("object", "str", "string")}
        return pd.read_csv(path, dtype=kept)
    coded = set(encoding["columns"])
    kinds = {c: (object if c in coded else t) for c, t in encoding["dtypes"].items()}
    # pandas 3 parses floats round-trip by default (and deprecates the argument); pandas 2's
    # default "high" precision can miss the last bit
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    missing = {c: [""] for c in encoding["dtypes"] if c not in coded}
    df = pd.read_csv(path, dtype=kinds, keep_default_na=False, na_values=missing, **exact)
    return decode(df, encoding)
