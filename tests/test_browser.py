"""The generated index.html in a real browser: headless Chromium (Debian's ``chromium``,
installed by ``.ci/run``) renders it; a screenshot is taken; the tables and images render
(checked from a wrapper page that reads the report's DOM) and the console stays silent."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ndebench.cli import main

from .test_runner import suite_file

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
PROBE = "ndebench-console-probe"
WRAPPER = """<!DOCTYPE html><html><body>
<iframe id="f" src="{src}" style="width:1400px;height:900px"></iframe><pre id="out">pending</pre>
<script>
console.log("{probe}");
document.getElementById("f").addEventListener("load", () => {{
  const d = document.getElementById("f").contentDocument;
  const imgs = Array.from(d.images);
  document.getElementById("out").textContent = JSON.stringify({{
    images: imgs.length,
    decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    tables: d.querySelectorAll("table").length,
    visible_tables: Array.from(d.querySelectorAll("table")).filter(
      t => t.getBoundingClientRect().height > 0).length,
    rows: d.querySelectorAll("table tbody tr").length,
    h2: Array.from(d.querySelectorAll("h2")).map(h => h.textContent),
    scripts: d.querySelectorAll("script").length}});
}});
</script></body></html>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import PLUGIN_DIR, ROOT

    mp = pytest.MonkeyPatch()
    mp.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    mp.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")
    tmp = tmp_path_factory.mktemp("browser")
    try:
        suite = suite_file(tmp, name="browser", steps=6)
        assert main(["run", str(suite), "--out", str(tmp / "res"), "--quiet"]) == 0
        assert main(["report", str(tmp / "res"), "--out", str(tmp / "rep")]) == 0
    finally:
        mp.undo()
    return tmp / "rep"


def test_report_renders_in_chromium(report_dir: Path, tmp_path: Path) -> None:
    index = report_dir / "index.html"
    shot = tmp_path / "summary.png"
    res = _chromium(
        ["--window-size=1400,1800", f"--screenshot={shot}", index.as_uri()], tmp_path / "p1"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert not _console(res.stderr), _console(res.stderr)

    wrapper = tmp_path / "wrapper.html"
    wrapper.write_text(WRAPPER.format(src=index.as_uri(), probe=PROBE))
    res = _chromium(
        [
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--dump-dom",
            wrapper.as_uri(),
        ],
        tmp_path / "p2",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<pre id="out">(.*?)</pre>', res.stdout, re.S)
    assert found, res.stdout[-2000:]
    facts = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert facts["h2"][0] == "Summary"
    assert facts["tables"] >= 4 and facts["visible_tables"] >= 3 and facts["rows"] >= 5
    assert facts["images"] >= 3 and facts["decoded"] == facts["images"]
    assert facts["scripts"] == 0
    console = _console(res.stderr)
    assert any(PROBE in line for line in console), "console capture is not working"
    assert [line for line in console if PROBE not in line] == []
