"""A test plugin that records which process ran each cell: its ``ndebench_before_cell_run``
hook appends ``{"pid", "label"}`` (one JSON line) to the file named by
``NDEBENCH_TEST_PID_LOG``. Registered through ``NDEBENCH_PLUGINS`` next to the toy backend."""

from __future__ import annotations

import json
import os
from typing import Any

from ndebench import hookimpl


@hookimpl
def ndebench_before_cell_run(cell: Any) -> None:
    path = os.environ.get("NDEBENCH_TEST_PID_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "label": cell.label()}) + "\n")
