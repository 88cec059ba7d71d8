"""What a benchmark run measured, kept in ``benchmarks/results.json`` for the performance page.

A script builds :class:`Table` rows and :class:`Aim` verdicts from its own figures, prints them,
and with ``--results PATH`` merges the run into that file (``make bench`` passes
``benchmarks/results.json``). A benchmark keeps the runs made at one commit of the code; a run at
another commit replaces them all, so the page never mixes figures of different code.
``benchmarks/performance_page.py`` renders the file as ``docs/performance.md``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fairseq_stilts.writes import write_atomic

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "docs" / "performance.md"
KEPT_RUNS = 3  # the most recent runs at one commit that a benchmark keeps


@dataclass
class Table:
    """A table of already formatted cells (numbers right-aligned on the page)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        """Plain columns for the terminal."""
        widths = [
            max(len(r[i]) for r in [self.columns, *self.rows]) for i in range(len(self.columns))
        ]
        lines = [self.title] if self.title else []
        for row in [self.columns, *self.rows]:
            lines.append(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                )
            )
        return "\n".join(lines)


@dataclass
class Aim:
    """A figure set against its target: ``value`` >= ``target`` (or <= with ``at_most``)."""

    name: str
    value: float
    target: float
    at_most: bool = False

    @property
    def met(self) -> bool:
        return self.value <= self.target if self.at_most else self.value >= self.target

    def line(self) -> str:
        sign = "<=" if self.at_most else ">="
        return f"{self.name}: {self.value:.2f} (aim {sign} {self.target:g}): {'met' if self.met else 'NOT met'}"


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``median (min, max)`` of per-round figures."""
    med, low, high = statistics.median(values), min(values), max(values)
    return f"{med:.{digits}f} ({low:.{digits}f}, {high:.{digits}f})"


def _cpu() -> tuple[str, list[str]]:
    """The CPU's model name and its bf16 instruction flags (Linux; empty elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU", []
    fields = dict(
        line.split(":", 1)
        for line in info.splitlines()
        if ":" in line and not line.startswith("\t\t")
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = fields.get("flags", "").split()
    return fields.get("model name", "unknown CPU"), sorted(f for f in flags if "bf16" in f)


def machine(device: str = "cpu") -> dict:
    """What the figures were measured on."""
    import torch

    model, bf16 = _cpu()
    described = {
        "cpu": model,
        "cores": os.cpu_count(),
        "bf16_flags": bf16,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if device.startswith("cuda"):
        described["gpu"] = torch.cuda.get_device_name(device)
    return described


def commit() -> str:
    """The checked-out commit, with ``+changes`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    outputs = [f":!{p.relative_to(ROOT)}" for p in (RESULTS, PAGE)]  # what make bench rewrites
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *outputs)
    return head + ("+changes" if changed else "")


def merge(path: Path, name: str, title: str, about: str, run: dict) -> None:
    """Add ``run`` to benchmark ``name`` in the results file at ``path`` (written atomically)."""
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    benchmarks = document.setdefault("benchmarks", {})
    kept = [r for r in benchmarks.get(name, {}).get("runs", []) if r["commit"] == run["commit"]]
    benchmarks[name] = {"title": title, "about": about, "runs": [*kept, run][-KEPT_RUNS:]}
    write_atomic(path, json.dumps(document, indent=1, ensure_ascii=False) + "\n")


def save(
    path: Path | None,
    name: str,
    title: str,
    about: str,
    tables: list[Table],
    aims: list[Aim] = (),
    notes: list[str] = (),
    device: str = "cpu",
    others: float | None = None,
) -> None:
    """Print the run's tables, aims and notes; with a ``path``, also merge the run into it."""
    for table in tables:
        print("\n" + table.text())
    for line in [*(aim.line() for aim in aims), *notes]:
        print(line)
    if path is None:
        return
    run = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "command": shlex.join(["python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "machine": machine(device),
        "others": others,
        "tables": [asdict(t) for t in tables],
        "aims": [{**asdict(a), "met": a.met} for a in aims],
        "notes": list(notes),
    }
    merge(path, name, title, about, run)
    print(f"recorded in {path}", flush=True)
