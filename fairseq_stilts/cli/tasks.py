"""stilts-tasks: list the registered task specs.

The ``runs_with`` column says ``fairseq`` for tasks that run through fairseq-train /
fairseq-validate and names the command for tasks scored without training (retrieval:
``stilts-retrieve``). Intermediate tasks come first, then auxiliary ones (masked-LM, trained beside
them), then targets; ``any`` languages: those of the data a user brings.
"""

from __future__ import annotations

import argparse

from fairseq_stilts.cli.main import cli
from fairseq_stilts.registry import SCORED_ONLY, all_specs

ROLES = ("intermediate", "auxiliary", "target")


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stilts-tasks", description=__doc__)
    parser.parse_args(argv)
    rows = [("task", "role", "family", "runs_with", "languages")]
    for spec in sorted(all_specs().values(), key=lambda s: (ROLES.index(s.role), s.name)):
        runs_with = SCORED_ONLY.get(spec.family, "fairseq")
        languages = " ".join(spec.languages) or "any"
        rows.append((spec.name, spec.role, spec.family, runs_with, languages))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4]
        )
