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


def check_complete(
    files: dict[str, dict[str, str]], data: Path, allow_missing: bool = False
) -> list[str]:
    """Errors (or, with ``allow_missing``, notes) for missing tasks and languages; errors for
    extra languages and for a file whose predictions do not match its test set's examples."""
    _, summaries = read_summary(data)
    examples = {s.task: s.test for s in summaries}
    notes, errors = [], []
    for task in XTREME_TASKS:
        spec = get_spec(task)
        if spec.xtreme_name not in files:
            notes.append(f"{spec.xtreme_name}: no predictions (no --checkpoint {task}=...)")
            continue
        family = get_family(spec.family)
        suffix = family.submission_suffix
        written = {
            name.removeprefix("test-").removesuffix(suffix) for name in files[spec.xtreme_name]
        }
        missing = [lang for lang in spec.languages if lang not in written]
        extra = sorted(written - set(spec.languages))
        if missing:
            notes.append(f"{spec.xtreme_name}: missing languages {' '.join(missing)}")
        if extra:
            errors.append(f"{spec.xtreme_name}: languages outside XTREME's list: {' '.join(extra)}")
        for lang in sorted(written & set(spec.languages)):
            name = f"test-{lang}{suffix}"
            count = family.submission_count(files[spec.xtreme_name][name])
            expected = examples[task][lang].examples
            if count is not None and count != expected:
                errors.append(
                    f"{spec.xtreme_name}/{name}: {count} predictions for {expected} test examples"
                )
    if errors or (notes and not allow_missing):
        raise StiltsError("incomplete submission: " + "; ".join(errors + notes))
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
