"""Which files a task reads from the user's disk, checked cheaply before a cell runs."""

from __future__ import annotations

from pathlib import Path


def missing_files(task: str, data_dir: str, names: list[tuple[str, ...]]) -> str | None:
    """None when ``data_dir`` holds one of each alternative group of ``names``; otherwise the
    user-facing reason (which files to put where), naming the suite key that sets the
    directory. Nothing is ever downloaded."""
    key = f"[params.task.{task}] data_dir"
    if not data_dir:
        wanted = ", ".join(group[0] for group in names)
        return f"task {task}: set {key} to a directory holding {wanted} (never downloaded)"
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        return f"task {task}: {key} = {str(root)!r} is not a directory; put the data files there"
    missing = [group[0] for group in names if not any((root / n).is_file() for n in group)]
    if missing:
        return f"task {task}: missing in {root} ({key}): {', '.join(missing)}"
    return None
