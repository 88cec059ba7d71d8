"""XTREME's submission folder: each target's test predictions, checked complete, written whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.results.categories import XTREME_TASKS
from fairseq_stilts.writes import write_error, write_folder
from fairseq_stilts.xtreme.prepare import read_summary


def check_planned(data: Path, tasks: list[str], allow_missing: bool = False) -> None:
    """Before anything is predicted: an error for the tasks and languages the submission would
    miss (tasks without a checkpoint, languages the prepared data lacks), unless allowed."""
    _, summaries = read_summary(data)
    found = {s.task: set(s.test) for s in summaries if s.task in tasks}
    _verdict([], _missing(found), allow_missing)


def check_complete(
    files: dict[str, dict[str, str]], data: Path, allow_missing: bool = False
) -> list[str]:
    """Errors (or, with ``allow_missing``, notes) for missing tasks and languages; errors for
    extra languages and for a file whose predictions do not match its test set's examples."""
    _, summaries = read_summary(data)
    examples = {s.task: s.test for s in summaries}
    written, errors = {}, []
    for task in XTREME_TASKS:
        spec = get_spec(task)
        if spec.xtreme_name not in files:
            continue
        family = get_family(spec.family)
        suffix = family.submission_suffix
        named = files[spec.xtreme_name]
        written[task] = {name.removeprefix("test-").removesuffix(suffix) for name in named}
        extra = sorted(written[task] - set(spec.languages))
        if extra:
            errors.append(f"{spec.xtreme_name}: languages outside XTREME's list: {' '.join(extra)}")
        for lang in sorted(written[task] & set(spec.languages)):
            name = f"test-{lang}{suffix}"
            count = family.submission_count(spec, named[name])
            expected = examples[task][lang].examples
            if count is not None and count != expected:
                errors.append(
                    f"{spec.xtreme_name}/{name}: {count} predictions for {expected} test examples"
                )
    return _verdict(errors, _missing(written), allow_missing)


def _missing(languages: dict[str, set[str]]) -> list[str]:
    """Notes for the XTREME tasks not in ``languages`` (task -> its languages) and for each
    task's official languages it lacks."""
    notes = []
    for task in XTREME_TASKS:
        spec = get_spec(task)
        if task not in languages:
            notes.append(f"{spec.xtreme_name}: no predictions (no --checkpoint {task}=...)")
            continue
        missing = [lang for lang in spec.languages if lang not in languages[task]]
        if missing:
            notes.append(f"{spec.xtreme_name}: missing languages {' '.join(missing)}")
    return notes


def _verdict(errors: list[str], notes: list[str], allow_missing: bool) -> list[str]:
    if errors or (notes and not allow_missing):
        hint = "" if errors else " (--allow-missing writes it anyway)"
        raise StiltsError("incomplete submission: " + "; ".join(errors + notes) + hint)
    return notes


def write_submission(out: Path, files: dict[str, dict[str, str]]) -> Path:
    """The folder ``out`` and ``out.zip``, each written whole or not at all."""
    out = Path(out)
    write_folder(
        out,
        {f"{task}/{name}": text for task, named in files.items() for name, text in named.items()},
    )
    archive = out.with_name(out.name + ".zip")
    base = archive.with_name(f".{archive.name}.{os.getpid()}")
    try:
        Path(shutil.make_archive(str(base), "zip", root_dir=out)).replace(archive)
    except OSError as err:
        Path(f"{base}.zip").unlink(missing_ok=True)
        raise write_error(archive, err) from None
    return archive
