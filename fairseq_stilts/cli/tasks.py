"""stilts-tasks: list the registered task specs.

The ``runnable`` column says ``yes`` for tasks that run through fairseq-train / fairseq-validate,
names the command for tasks scored without training (retrieval: ``stilts-retrieve``), and says
``not yet`` for families not built yet.
"""

from __future__ import annotations

import argparse

from fairseq_stilts.cli.main import cli
from fairseq_stilts.registry import SCORED_ONLY, all_specs


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stilts-tasks", description=__doc__)
    parser.parse_args(argv)
    rows = [("task", "role", "family", "runnable", "languages")]
    for spec in sorted(all_specs().values(), key=lambda s: (s.role, s.name)):
        runnable = SCORED_ONLY.get(spec.family, "yes") if spec.runnable else "not yet"
        rows.append((spec.name, spec.role, spec.family, runnable, " ".join(spec.languages)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4]
        )
