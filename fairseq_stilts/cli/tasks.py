"""stilts-tasks: list the registered task specs.

The ``runs_with`` column says ``fairseq`` for tasks that run through fairseq-train /
fairseq-validate and names the command for tasks scored without training (retrieval:
``stilts-retrieve``); ``task_class`` is the fairseq task class ``--task NAME`` runs, in the file
that defines its family. Intermediate tasks come first, then auxiliary ones (masked-LM, trained
beside them), then targets; ``any`` languages: those of the data a user brings.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.registry import Family, all_specs, get_family
from fairseq_stilts.runtime import USER_DIR

ROLES = ("intermediate", "auxiliary", "target")


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-tasks", __doc__, plugin=False)
    parser.parse_args(argv)
    from fairseq_stilts import families  # noqa: F401  (the built-in records; no fairseq)

    rows = [("task", "role", "family", "runs_with", "task_class", "languages")]
    for spec in sorted(all_specs().values(), key=lambda s: (ROLES.index(s.role), s.name)):
        family = get_family(spec.family)
        runs_with = family.scored_by or "fairseq"
        languages = " ".join(spec.languages) or "any"
        rows.append((spec.name, spec.role, spec.family, runs_with, _defined_in(family), languages))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )


def _defined_in(family: Family) -> str:
    """``Class (file)`` of the family's task class, found without importing it (or fairseq)."""
    if isinstance(family.task, str):
        module, _, name = family.task.partition(":")
        path = Path(importlib.util.find_spec(module).origin)
    else:
        name, path = family.task.__name__, Path(inspect.getfile(family.task))
    root = Path(USER_DIR).parent
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return f"{name} ({shown})"
