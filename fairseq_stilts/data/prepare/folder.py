"""stilts-prepare's entry point: check the request, then hand it to the task's family.

Every family writes its folder atomically (a hidden temporary folder renamed into place) with a
``manifest.json`` (:mod:`~fairseq_stilts.data.prepare.manifest`). Subsets are ``train``,
``valid`` (English dev), ``valid.<lang>`` and ``test.<lang>``; training data in other languages
than English alone also gives one ``train.<lang>`` per language, ``train`` being their
concatenation (see :class:`~fairseq_stilts.data.prepare.train_languages.TrainLanguages`).
"""

from __future__ import annotations

from pathlib import Path

from fairseq_stilts.data.prepare.examples import check_languages
from fairseq_stilts.data.prepare.manifest import Manifest
from fairseq_stilts.data.prepare.request import ENGLISH, PrepareRequest, QAOptions
from fairseq_stilts.data.prepare.train_languages import TrainLanguages
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_family, get_spec


def prepare_task(
    task: str,
    out: Path,
    model_dir: Path,
    raw: Path | None = None,
    hf: dict[str, Path] | None = None,
    languages: list[str] | None = None,
    workers: int = 2,
    force: bool = False,
    max_seq_length: int = 0,
    qa: QAOptions | None = None,
    train: TrainLanguages = ENGLISH,
    quiet: bool = False,
) -> Manifest:
    """Read, check, encode and binarize a task's data into ``out``; return the manifest.

    ``train`` chooses the training languages and files (default: the spec's English ones).
    ``max_seq_length`` (tagging and span QA; default the spec's) is the longest input the model
    sees, ``<s>`` and ``</s>`` included: longer sentences are split into pieces at word
    boundaries, long contexts into overlapping windows (``qa``: stride, question length).
    """
    spec = get_spec(task)
    spec.require_trainable()
    family = get_family(spec.family)
    out = Path(out)
    if out.exists() and not force:
        raise StiltsError(f"{out} already exists (pass --force to replace it)")
    if (raw is None) == (not hf):
        raise StiltsError("give exactly one of a raw data folder or --hf LANG=PATH datasets")
    if hf and not family.hf_datasets:
        raise StiltsError(
            f"task {task!r}: --hf datasets are not supported for the {family.name} family"
        )
    if languages and spec.languages:
        check_languages(spec, languages, "--languages")
    if train != ENGLISH and (raw is None or not family.translated_train):
        raise StiltsError(
            f"task {task!r}: --train-languages, --train-file and --no-english-train need a raw "
            "data folder of a classification, multiple-choice or span-QA task"
        )
    request = PrepareRequest(
        spec=spec,
        out=out,
        model_dir=Path(model_dir),
        raw=None if raw is None else Path(raw),
        hf=hf or None,
        languages=languages,
        workers=workers,
        max_seq_length=max_seq_length,
        qa=qa or QAOptions(),
        train=train,
        quiet=quiet,
    )
    return family.prepare(request)
