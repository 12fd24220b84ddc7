"""The self-contained ``index.html``, rendered with jinja2 (autoescaping on).

Inline CSS, figures embedded as base64 data URIs: nothing in the page refers to a network
resource, and the file can be mailed or archived alone. Markdown bodies (plugin sections) go
through markdown-it-py with raw HTML disabled and links limited to safe schemes; every other
string is escaped by the templates.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ndebench.report.markdown import anchor
from ndebench.report.model import ReportSection

if TYPE_CHECKING:
    import pandas as pd

MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
#: link schemes a markdown body may use; anything else (javascript:, data:, vbscript:, file:)
#: is dropped by markdown-it's link validation
SAFE_SCHEMES = ("http", "https", "mailto")

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
h1, h2, h3 { overflow-wrap: anywhere; }
nav { background: var(--head); border: 1px solid var(--line); border-radius: 6px;
  padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; }
nav a { min-width: 0; overflow-wrap: anywhere; }
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


@functools.cache
@functools.cache  # one environment, so each template is compiled once per process
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("ndebench.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def esc(value: object) -> str:
    """``value`` as escaped HTML text."""
    return str(escape(str(value)))


def data_uri(path: Path) -> str:
    """The file as a ``data:`` URI (PNG, SVG, JPEG)."""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def html_figure(path: Path, caption: str = "", alt: str = "") -> str:
    """An embedded figure; ``data-file`` keeps the file name for reference."""
    return (
        _env()
        .get_template("figure.html.j2")
        .render(src=data_uri(path), alt=alt or path.stem, name=path.name, caption=caption)
    )


_NUMERIC = re.compile(r"^[-—+0-9.,]")


def html_table(
    frame: pd.DataFrame,
    raw_columns: Iterable[str] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """A styled table; values are escaped except in ``raw_columns`` (HTML this module or
    :mod:`ndebench.report.sections` built from escaped parts)."""
    raw = [c in set(raw_columns) for c in frame.columns]
    out = ['<div class="table-wrap"><table><thead><tr>']
    out += [f"<th>{escape(str(c))}</th>" for c in frame.columns]
    out.append("</tr></thead><tbody>")
    # built here rather than by a template: a large report has hundreds of thousands of cells
    for i, row in enumerate(frame.itertuples(index=False, name=None)):
        cls = row_classes[i] if row_classes else ""
        out.append(f'<tr class="{escape(cls)}">' if cls else "<tr>")
        for is_raw, value in zip(raw, row, strict=True):
            text = str(value)
            if is_raw:
                out.append(f"<td>{text}</td>")
            else:
                num = ' class="num"' if _NUMERIC.match(text) else ""
                out.append(f"<td{num}>{escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _validate_link(url: str) -> bool:
    """Relative links, anchors and the :data:`SAFE_SCHEMES` only."""
    text = url.strip().lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", text)
    if scheme is None:
        return not text.startswith("//")
    return scheme.group(1) in SAFE_SCHEMES


@functools.cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.validateLink = _validate_link  # type: ignore[method-assign]
    return md


def markdown_to_html(text: str, base_dir: Path | None = None) -> str:
    """Markdown (CommonMark + tables) to HTML with markdown-it-py: raw HTML is shown as text,
    links with unsafe schemes stay text, local images are embedded as data URIs, headings are
    shifted down two levels (section titles are ``h2``)."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
        for child in token.children or ():
            if child.type == "image":
                _embed_image(child, base_dir)
        if token.type == "table_open":
            token.attrSet("data-md", "1")
    out = md.renderer.render(tokens, md.options, {})
    return re.sub(
        r'<table data-md="1">(.*?)</table>',
        r'<div class="table-wrap"><table>\1</table></div>',
        out,
        flags=re.S,
    )


def _embed_image(token: Any, base_dir: Path | None) -> None:
    """A local image file becomes a data URI; anything else (remote, scripted, missing)
    becomes text, so the page never loads a resource."""
    src = str(token.attrGet("src") or "")
    if not re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
        path = Path(src) if Path(src).is_absolute() or base_dir is None else base_dir / src
        if path.is_file() and path.suffix.lower() in MIME:
            token.attrSet("src", data_uri(path))
            token.attrSet("data-file", path.name)
            return
    token.type, token.tag, token.attrs = "text", "", {}
    token.content = f"[image not embedded: {src}]"
    token.children = None


def render_html(
    sections: Sequence[ReportSection], title: str, base_dir: Path, intro: str = ""
) -> str:
    """The whole self-contained page."""
    items = []
    for section in sections:
        body = section.html
        if body is None:
            body = markdown_to_html(section.markdown, base_dir)
        figures: list[Markup] = []
        shown: set[str] = set()
        for fig in section.figures:
            path = fig if fig.is_absolute() else base_dir / fig
            if f'data-file="{esc(path.stem)}.' in body or path.stem in shown:
                continue  # this figure (in some format) is already shown
            shown.add(path.stem)
            if path.is_file() and path.suffix.lower() in MIME:
                figures.append(Markup(html_figure(path, alt=path.stem)))
            else:
                figures.append(Markup(f'<p class="note">Figure {esc(path)} not found.</p>'))
        items.append(
            {
                "title": section.title,
                "anchor": anchor(section.title),
                "body": Markup(body),
                "figures": figures,
            }
        )
    intro_html = Markup(re.sub(r"^<p>|</p>\s*$", "", markdown_to_html(intro))) if intro else ""
    page = (
        _env()
        .get_template("page.html.j2")
        .render(title=title, intro=intro_html, sections=items, css=Markup(CSS))
    )
    return page.rstrip("\n") + "\n"
