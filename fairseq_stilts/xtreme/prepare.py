"""stilts-prepare xtreme: all nine XTREME targets from the folder XTREME's download script fills.

Each target is read from its folder of that layout (``xnli/``, ``pawsx/``, ``udpos/``, ``panx/``,
``xquad/``, ``mlqa/``, ``tydiqa/`` with ``squad/`` beside them, ``bucc2018/``, ``tatoeba/``) and
made into ``OUT/<task>`` as ``stilts-prepare <task>`` would, with English training data (XTREME's
zero-shot setting). Test files without gold labels, as that script leaves them, are accepted and
marked. The retrieval targets have nothing to prepare: their files are read and checked, and
scored later from the download itself. ``OUT/xtreme.json`` records what was found per task and
language, and where, for ``stilts-submission``. A target folder an earlier run prepared from the
same download and model is kept (a run that stopped at one target resumes there); ``force``
prepares every target again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.manifest import Manifest, read_manifest
from fairseq_stilts.data.prepare.request import QAOptions
from fairseq_stilts.errors import DataError, StiltsError, read_json
from fairseq_stilts.families.retrieval.retrievers import read_test_sets
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.results.categories import XTREME_TASKS
from fairseq_stilts.runtime import DICT_FILE, file_sha256
from fairseq_stilts.writes import write_atomic

SUMMARY = "xtreme.json"


@dataclass(frozen=True)
class TestSet:
    """One language's test set: its examples (retrieval: sentences to query or mine) and
    whether it came with gold labels."""

    examples: int
    labelled: bool


@dataclass(frozen=True)
class TaskSummary:
    """What one target has in the download; ``folder`` is its prepared data folder, or for a
    retrieval target the raw folder it is scored from; ``absent`` says why a task is missing."""

    task: str
    folder: str | None = None
    train: int = 0
    test: dict[str, TestSet] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    absent: str = ""


def prepare_xtreme(
    download: Path,
    out: Path,
    model_dir: Path,
    languages: list[str] | None = None,
    workers: int = 2,
    force: bool = False,
    max_seq_length: int = 0,
    qa: QAOptions | None = None,
    quiet: bool = False,
) -> list[TaskSummary]:
    """Prepare every target found in ``download`` into ``out``; return one summary per target."""
    download, out = Path(download), Path(out)
    if not download.is_dir():
        raise StiltsError(f"{download}: XTREME download folder not found")
    summaries = []
    for task in XTREME_TASKS:
        spec = get_spec(task)
        raw = download / spec.xtreme_name
        wanted = [lang for lang in languages or spec.languages if lang in spec.languages]
        if not raw.is_dir():
            summaries.append(TaskSummary(task, absent=f"no folder {raw}"))
        elif not wanted:
            summaries.append(TaskSummary(task, absent="none of --languages"))
        elif get_family(spec.family).prepare is None:
            summaries.append(_retrieval(task, raw, languages and wanted))
        else:
            manifest = None if force else _prepared_earlier(out / task, task, download, model_dir)
            if manifest is None:
                if not quiet:
                    print(f"{task}: preparing {raw}", flush=True)
                manifest = prepare_task(
                    task,
                    out / task,
                    model_dir,
                    raw=raw,
                    languages=languages and wanted,
                    workers=workers,
                    force=force,
                    max_seq_length=max_seq_length,
                    qa=qa,
                    quiet=quiet,
                )
            elif not quiet:
                print(f"{task}: kept {out / task}, prepared earlier (--force prepares it again)")
            test = {
                lang: TestSet(info.count, info.labelled)
                for lang in manifest.languages_of("test")
                for info in [manifest.subsets[f"test.{lang}"]]
            }
            train = manifest.subsets["train"].count
            summaries.append(
                TaskSummary(task, str(out / task), train, test, _missing(wanted, test))
            )
    document = {"download": str(download.resolve()), "tasks": [asdict(s) for s in summaries]}
    write_atomic(out / SUMMARY, json.dumps(document, indent=2) + "\n")
    return summaries


def _prepared_earlier(folder: Path, task: str, download: Path, model_dir: Path) -> Manifest | None:
    """The manifest of ``folder`` if an earlier run prepared it from ``download`` with this
    model, so that a run stopped at one task resumes there; None if there is no folder."""
    if not folder.exists():
        return None
    manifest = read_manifest(folder, task)
    download = download.resolve()
    other = [
        s.path for s in manifest.sources if not Path(s.path).resolve().is_relative_to(download)
    ]
    if other or manifest.dictionary_sha256 != file_sha256(Path(model_dir) / DICT_FILE):
        raise StiltsError(
            f"{folder}: prepared from {other[0] if other else 'another model'}, not from "
            f"{download} with this model (pass --force to replace it)"
        )
    return manifest


def _missing(wanted: list[str], found: dict) -> list[str]:
    return [lang for lang in wanted if lang not in found]


def _retrieval(task: str, raw: Path, languages: list[str] | None) -> TaskSummary:
    data = read_test_sets(get_spec(task), raw, languages or None)
    test = {lang: TestSet(d.examples, d.labelled) for lang, d in data.items()}
    wanted = languages or list(get_spec(task).languages)
    return TaskSummary(task, str(raw.resolve()), 0, test, _missing(wanted, test))


def read_summary(out: Path) -> tuple[Path, list[TaskSummary]]:
    """The download folder and task summaries that ``prepare_xtreme`` recorded in ``out``."""
    path = Path(out) / SUMMARY
    if not path.is_file():
        raise StiltsError(f"{path}: not found; prepare the folder with `stilts-prepare xtreme`")
    document = read_json(path)
    try:
        tasks = [
            TaskSummary(**(t | {"test": {k: TestSet(**v) for k, v in t["test"].items()}}))
            for t in document["tasks"]
        ]
        return Path(document["download"]), tasks
    except (KeyError, TypeError, AttributeError) as err:
        raise DataError(path, f"not a summary stilts-prepare xtreme wrote ({err!r})") from None


def format_summary(summaries: list[TaskSummary]) -> str:
    """One row per target: training examples, test languages found of the official ones, test
    examples and gold; then a line per missing task or language."""
    lines = [f"{'task':<9}{'train':>8}{'test languages':>16}{'test examples':>15}  gold"]
    notes = []
    for s in summaries:
        official = len(get_spec(s.task).languages)
        if s.absent:
            lines.append(f"{s.task:<9}{'-':>8}{f'0/{official}':>16}{'-':>15}  -")
            notes.append(f"{s.task}: missing ({s.absent})")
            continue
        labelled = {t.labelled for t in s.test.values()}
        gold = {frozenset({True}): "yes", frozenset({False}): "no (test labels stripped)"}.get(
            frozenset(labelled), "some languages"
        )
        examples = sum(t.examples for t in s.test.values())
        train = str(s.train) if s.train else "-"
        lines.append(
            f"{s.task:<9}{train:>8}{f'{len(s.test)}/{official}':>16}{examples:>15}  {gold}"
        )
        if s.missing:
            notes.append(f"{s.task}: missing languages {' '.join(s.missing)}")
    return "\n".join(lines + notes)
