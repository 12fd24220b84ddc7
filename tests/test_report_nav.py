"""The report's navigation bar wraps instead of overflowing sideways: rendered in headless
Chromium at a narrow width, the bar is no wider than the page and every link stays inside it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ndebench.report.html import render_html
from ndebench.report.model import ReportSection

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TITLES = [
    "Summary",
    "Claims against the papers",
    "spiral: predict NFE, time and test metric",
    "latent_ode: predict NFE, time and test metric",
    "Loss and NFE over training",
    "Prediction time vs test metric (Pareto front)",
    "Work-precision",
    "Performance profiles",
    "Backends and modes side by side",
    "A_very_long_section_title_without_any_space_to_break_it_at_all_whatsoever",
]
PROBE = """<!DOCTYPE html><html><body>
<iframe id="f" src="{src}" style="width:{width}px;height:600px;border:0"></iframe>
<pre id="out">pending</pre><script>
document.getElementById("f").addEventListener("load", () => {{
  const d = document.getElementById("f").contentDocument;
  const nav = d.querySelector("nav"), box = nav.getBoundingClientRect();
  const links = Array.from(nav.querySelectorAll("a")).map(a => a.getBoundingClientRect());
  document.getElementById("out").textContent = JSON.stringify({{
    page: d.documentElement.clientWidth, doc: d.documentElement.scrollWidth,
    nav_scroll: nav.scrollWidth, nav_client: nav.clientWidth, rows: new Set(links.map(
      r => Math.round(r.top))).size, outside: links.filter(r => r.right > box.right + 1).length}});
}});
</script></body></html>"""


def test_nav_links_are_separated_by_whitespace(tmp_path: Path) -> None:
    page = render_html([ReportSection(t, "body") for t in TITLES], "Report", tmp_path)
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S)
    assert nav is not None
    assert "</a><a" not in nav.group(1)  # no break opportunity between links otherwise


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
@pytest.mark.parametrize("width", [420, 900])
def test_nav_wraps_in_chromium(tmp_path: Path, width: int) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "index.html"
    page.write_text(render_html([ReportSection(t, "body") for t in TITLES], "Report", tmp_path))
    probe = tmp_path / "probe.html"
    probe.write_text(PROBE.format(src=page.as_uri(), width=width))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
           "--allow-file-access-from-files", "--virtual-time-budget=3000", "--dump-dom",
           probe.as_uri()]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<pre id="out">(.*?)</pre>', res.stdout, re.S)
    assert found, res.stdout[-2000:]
    facts = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert facts["nav_scroll"] <= facts["nav_client"], facts
    assert facts["doc"] <= facts["page"], facts
    assert facts["outside"] == 0, facts
    assert facts["rows"] >= 2, facts  # the links do not fit one line at these widths: wrapped
