"""Until the entry points are installed, import the third-party plugins from plugins/."""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_DIR = str(Path(__file__).resolve().parents[2] / "plugins")
if PLUGIN_DIR not in sys.path:
    sys.path.append(PLUGIN_DIR)
