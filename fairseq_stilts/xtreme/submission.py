"""XTREME's submission folder: each target's test predictions, checked complete, written whole."""

from __future__ import annotations

import shutil
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.results.categories import XTREME_TASKS
from fairseq_stilts.writes import folder_written_atomically, write_error
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
    with folder_written_atomically(out) as tmp:
        for task, named in files.items():
            (tmp / task).mkdir()
            for name, text in named.items():
                (tmp / task / name).write_text(text, encoding="utf-8")
        archive = out.with_suffix(".zip")
        try:
            built = shutil.make_archive(str(tmp) + ".zip-build", "zip", root_dir=tmp)
            Path(built).replace(archive)
        except OSError as err:
            raise write_error(archive, err) from None
    return archive
