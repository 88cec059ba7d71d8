"""Run the stock fairseq executables (fairseq-train, fairseq-validate, ...) with the plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fairseq_stilts
from fairseq_stilts.errors import StiltsError

USER_DIR = str(Path(fairseq_stilts.__file__).parent)


def fairseq_executable(name: str) -> str:
    """The console script installed beside this Python (the venv's fairseq-train, ...)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise StiltsError(f"{name} not found beside {sys.executable}: is fairseq installed here?")
    return str(path)


def run_fairseq(name: str, args: list[str], log: Path) -> str:
    """Run ``name`` with ``--user-dir`` set; keep its output in ``log``; return that output."""
    command = [fairseq_executable(name), *args, "--user-dir", USER_DIR]
    log.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, capture_output=True, text=True)
    output = result.stdout + result.stderr
    log.write_text(" ".join(command) + "\n" + output)
    if result.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise StiltsError(f"{name} failed (exit {result.returncode}); log: {log}\n{tail}")
    return output
