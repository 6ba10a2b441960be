"""Live processes the tests look for (Linux /proc)."""

from __future__ import annotations

from pathlib import Path


def train_processes(runs_dir: Path) -> list[int]:
    """The pids of live ``python -m lstm_tui train`` processes working in ``runs_dir`` (zombies
    excluded: an ended child its parent has not reaped yet is not running)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(") ", 1)[-1][:1]
        except OSError:
            continue
        if b"lstm_tui" in command and b"train" in command and str(runs_dir).encode() in command and state != "Z":
            pids.append(int(entry.name))
    return pids
