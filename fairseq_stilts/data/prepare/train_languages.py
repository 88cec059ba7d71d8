"""Training data in several languages (translate-train): the languages and their files.

English training data comes from the spec's own training files. Another language's comes from
the user's own file in the task's training format (``--train-file LANG=PATH``) or else from the
spec's translated layout: a training :class:`~fairseq_stilts.registry.Source` whose pattern names
``{lang}`` (MNLI's XNLI-MT, SQuAD's XTREME translate-train, PAWS-X's ``translated_train.tsv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.registry import Source, TaskSpec, all_specs


@dataclass(frozen=True)
class TrainLanguages:
    """The languages to train on, in order, and the user's own training files per language."""

    languages: tuple[str, ...] = ("en",)
    files: Mapping[str, Path] = field(default_factory=dict)
    # the user's dev files in other languages (``--dev-file``), to select on several languages
    dev_files: Mapping[str, Path] = field(default_factory=dict)


def choose_train_languages(
    languages: Sequence[str] | None = None,
    no_english: bool = False,
    files: Sequence[tuple[str, Path]] = (),
    dev_files: Sequence[tuple[str, Path]] = (),
) -> TrainLanguages:
    """Check stilts-prepare's ``--train-languages``, ``--no-english-train``, ``--train-file`` and
    ``--dev-file``."""
    chosen = [
        lang for lang in dict.fromkeys(languages or ["en"]) if not (no_english and lang == "en")
    ]
    if not chosen:
        raise StiltsError("--no-english-train leaves no training language; add --train-languages")
    known = sorted({lang for spec in all_specs().values() for lang in spec.languages})
    unknown = [lang for lang in chosen + [lang for lang, _ in files] if lang not in known]
    if unknown:
        raise StiltsError(
            f"--train-languages/--train-file: unknown language(s) {unknown}; known: {' '.join(known)}"
        )
    given: dict[str, Path] = {}
    for lang, path in files:
        if lang in given:
            raise StiltsError(f"--train-file: language {lang!r} is given twice")
        if lang not in chosen:
            raise StiltsError(
                f"--train-file {lang}={path}: {lang!r} is not a training language "
                f"(--train-languages {' '.join(chosen)})"
            )
        if not Path(path).is_file():
            raise DataError(path, f"--train-file {lang}: file not found")
        given[lang] = Path(path)
    return TrainLanguages(tuple(chosen), given, _dev_files(dev_files, known))


def _dev_files(files: Sequence[tuple[str, Path]], known: list[str]) -> dict[str, Path]:
    given: dict[str, Path] = {}
    for lang, path in files:
        if lang not in known or lang == "en":
            what = "English dev is the task's own" if lang == "en" else "unknown language"
            raise StiltsError(f"--dev-file {lang}={path}: {what}")
        if lang in given:
            raise StiltsError(f"--dev-file: language {lang!r} is given twice")
        if not Path(path).is_file():
            raise DataError(path, f"--dev-file {lang}: file not found")
        given[lang] = Path(path)
    return given


def is_translation(source: Source) -> bool:
    """A training source of the spec's translated layout (its pattern names ``{lang}``)."""
    return source.split == "train" and "{lang}" in source.pattern


def own_train_sources(spec: TaskSpec) -> list[Source]:
    """The spec's own (English) training sources."""
    return [s for s in spec.sources if s.split == "train" and not is_translation(s)]


def user_file_source(spec: TaskSpec, path: Path, split: str = "train") -> Source:
    """How to read a user's training (or dev) file: the spec's own source of that split with the
    same file extension (ANLI+ has JSONL and TSV ones), else its first."""
    sources = (
        own_train_sources(spec)
        if split == "train"
        else [s for s in spec.sources if s.split == split]
    )
    same = [s for s in sources if Path(s.pattern).suffix == path.suffix]
    return (same or sources)[0]


def translated_files(
    spec: TaskSpec, raw: Path, languages: Sequence[str]
) -> list[tuple[Source, str, Path]]:
    """(source, language, path) of each language's file of the spec's translated layout (the
    first pattern with an existing file); a language without one is an error naming what was
    tried."""
    found, missing = [], []
    for lang in languages:
        tried = [(s, raw / s.pattern.replace("{lang}", lang)) for s in spec.sources]
        tried = [(s, path) for s, path in tried if is_translation(s)]
        existing = [(s, lang, path) for s, path in tried if path.is_file()]
        if existing:
            found.append(existing[0])
        else:
            paths = (
                ", ".join(str(path) for _, path in tried) or "none: the task has no translations"
            )
            missing.append(f"{lang} (tried {paths})")
    if missing:
        raise StiltsError(
            f"task {spec.name!r}: no training file for language(s) {'; '.join(missing)}; "
            "pass --train-file LANG=PATH"
        )
    return found
