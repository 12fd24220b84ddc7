"""The self-contained ``index.html``: inline CSS, figures embedded as base64 data URIs.

Nothing in the page refers to a network resource; the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ndebench.report.markdown import anchor

if TYPE_CHECKING:
    import pandas as pd

    from ndebench.report.sections import ReportSection

MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg);
  margin: 0 auto; padding: 1.5rem 2rem 4rem; max-width: 1400px; }
h1 { font-size: 1.7rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
h2 { font-size: 1.35rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem;
  margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
nav { background: var(--head); border: 1px solid var(--line); border-radius: 6px;
  padding: .5rem 1rem; }
nav a { margin-right: 1.2rem; white-space: nowrap; }
.muted, .note { color: var(--muted); }
.table-wrap { overflow-x: auto; margin: .6rem 0 1rem; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 9px; vertical-align: top; }
th { background: var(--head); text-align: left; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4ff; }
tr.baseline td { font-weight: 600; }
code { background: #eff1f3; border-radius: 4px; padding: .1em .35em; font-size: 90%; }
pre { background: #f6f8fa; padding: .7rem; border-radius: 6px; overflow-x: auto;
  font-size: 12px; white-space: pre-wrap; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto;
  border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: .3rem; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: .5rem 1rem; }
details summary { cursor: pointer; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def data_uri(path: Path) -> str:
    """The file as a ``data:`` URI (PNG, SVG, JPEG)."""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def html_figure(path: Path, caption: str = "", alt: str = "") -> str:
    """An embedded figure; ``data-file`` keeps the file name for reference."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{data_uri(path)}" alt="{esc(alt or path.stem)}" '
        f'data-file="{esc(path.name)}">{cap}</figure>'
    )


_NUMERIC = re.compile(r"^[-—+0-9.,]")


def html_table(
    frame: pd.DataFrame,
    raw_columns: Iterable[str] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """A styled table; values are escaped except in ``raw_columns`` (already HTML)."""
    raw = set(raw_columns)
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body: list[str] = []
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            text = str(value) if col in raw else esc(value)
            numeric = col not in raw and bool(_NUMERIC.match(str(value)))
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        cls = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _inline(text: str, base_dir: Path | None) -> str:
    """Inline markdown: images (embedded when local), links, code, bold, italics."""
    out = esc(text)

    def image(m: re.Match[str]) -> str:
        alt, src = html.unescape(m.group(1)), html.unescape(m.group(2))
        path = Path(src) if Path(src).is_absolute() or base_dir is None else base_dir / src
        if path.is_file() and path.suffix.lower() in MIME:
            return f'<img src="{data_uri(path)}" alt="{esc(alt)}" data-file="{esc(path.name)}">'
        return f"<em>[image {esc(alt)}: {esc(src)} not embedded]</em>"

    out = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", image, out)
    out = re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])", r"<em>\1</em>", out)


def markdown_to_html(text: str, base_dir: Path | None = None) -> str:
    """A small markdown subset to HTML, for plugin sections that give only markdown:
    headings, paragraphs, bullet lists, pipe tables, fenced code, inline markup."""
    lines = text.strip("\n").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
        elif stripped.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append(f"<pre>{esc(chr(10).join(lines[i + 1 : j]))}</pre>")
            i = j + 1
        elif m := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            level = min(6, len(m.group(1)) + 2)  # section titles are h2
            out.append(f"<h{level}>{_inline(m.group(2), base_dir)}</h{level}>")
            i += 1
        elif stripped.startswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            out.append(_pipe_table(lines[i:j], base_dir))
            i = j
        elif re.match(r"^[-*+]\s+", stripped):
            items = []
            while i < len(lines) and re.match(r"^\s*[-*+]\s+", lines[i]):
                items.append(_inline(re.sub(r"^\s*[-*+]\s+", "", lines[i]), base_dir))
                i += 1
            out.append("<ul>" + "".join(f"<li>{it}</li>" for it in items) + "</ul>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not re.match(r"^\s*([-*+]\s|#|\||```)", lines[i])
            ):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para), base_dir)}</p>")
    return "\n".join(out)


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def _pipe_table(lines: list[str], base_dir: Path | None) -> str:
    rows = [_split_row(line) for line in lines]
    if len(rows) >= 2 and all(re.match(r"^:?-+:?$", c) for c in rows[1] if c):
        head, body = rows[0], rows[2:]
    else:
        head, body = [], rows
    thead = "".join(f"<th>{_inline(c, base_dir)}</th>" for c in head)
    tbody = "".join(
        "<tr>" + "".join(f"<td>{_inline(c, base_dir)}</td>" for c in r) + "</tr>" for r in body
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{thead}</tr></thead>'
        f"<tbody>{tbody}</tbody></table></div>"
    )


def render_html(
    sections: Sequence[ReportSection], title: str, base_dir: Path, intro: str = ""
) -> str:
    """The whole self-contained page."""
    nav = "".join(f'<a href="#{anchor(s.title)}">{esc(s.title)}</a>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if intro:
        parts.append(f'<p class="muted">{_inline(intro, base_dir)}</p>')
    parts.append(f"<nav>{nav}</nav>")
    for section in sections:
        body = section.html
        if body is None:
            body = markdown_to_html(section.markdown, base_dir)
        parts.append(f'<section id="{anchor(section.title)}"><h2>{esc(section.title)}</h2>')
        parts.append(body)
        shown: set[str] = set()
        for fig in section.figures:
            path = fig if fig.is_absolute() else base_dir / fig
            if f'data-file="{esc(path.stem)}.' in body or path.stem in shown:
                continue  # this figure (in some format) is already shown
            shown.add(path.stem)
            if path.is_file() and path.suffix.lower() in MIME:
                parts.append(html_figure(path, alt=path.stem))
            else:
                parts.append(f'<p class="note">Figure {esc(path)} not found.</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
