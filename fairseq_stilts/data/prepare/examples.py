"""Collect a task's raw examples (files in the spec's layout or local HF datasets) and check them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from fairseq_stilts.data.prepare.hf_local import UNLABELLED
from fairseq_stilts.data.prepare.readers import Example, get_reader
from fairseq_stilts.data.prepare.request import ENGLISH
from fairseq_stilts.data.prepare.subsets import Part
from fairseq_stilts.data.prepare.train_languages import (
    TrainLanguages,
    own_train_sources,
    translated_files,
    user_file_source,
)
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.progress import progress
from fairseq_stilts.registry import Source, TaskSpec


def check_languages(spec: TaskSpec, languages: Iterable[str], where: str) -> None:
    unknown = sorted(set(languages) - set(spec.languages))
    if unknown:
        raise StiltsError(
            f"{where}: language(s) {unknown} not in task {spec.name!r}; valid: {' '.join(spec.languages)}"
        )


def check_examples(spec: TaskSpec, examples: Iterable[Example], part: Part) -> Part:
    """Fill ``part`` with examples whose texts are non-empty and labels known (a test file
    without labels: placeholders, and the part is marked unlabelled)."""
    for ex in examples:
        if ex.label is None:
            part.mark_unlabelled(ex.path, ex.line)
            _check_texts(spec, ex)
            part.examples.append(ex.texts)
            part.labels.append(0)
            continue
        if ex.label in spec.skip_labels or ex.label == UNLABELLED:
            part.skipped += 1
            continue
        label = spec.canonical_label(ex.label)
        if label not in spec.labels:
            raise DataError(
                ex.path, f"unknown label {ex.label!r}; expected one of {list(spec.labels)}", ex.line
            )
        _check_texts(spec, ex)
        part.examples.append(ex.texts)
        part.labels.append(spec.labels.index(label))
    return part


def _check_texts(spec: TaskSpec, ex: Example) -> None:
    for name, text in zip(spec.field_names, ex.texts, strict=True):
        if not text.strip():
            raise DataError(ex.path, f"empty text in field {name!r}", ex.line)


def parts_from_files(
    spec: TaskSpec,
    raw: Path,
    languages: set[str] | None,
    train: TrainLanguages = ENGLISH,
    quiet: bool = False,
) -> list[Part]:
    """Read every file of the spec's layout under ``raw`` (training files: those of ``train``);
    ``{lang}`` patterns are globbed."""
    parts = []
    files = source_files(spec, raw, languages, train)
    for source, lang, path in progress(files, desc="reading", unit="files", quiet=quiet):
        reader = get_reader(source.reader)
        examples = reader(path, source.columns, spec.field_names, source.header)
        parts.append(check_examples(spec, examples, Part(source.split, lang, str(path))))
    return parts


HFReader = Callable[[TaskSpec, Path], dict[str, list[Example]]]


def parts_from_hf(spec: TaskSpec, datasets: dict[str, Path], read_splits: HFReader) -> list[Part]:
    """Read local HF datasets given per language (``{"de": Path(...)}``) with the family's
    ``read_splits``. A split without any gold label (the Hub's test splits of HellaSwag,
    CommonsenseQA, Cosmos QA, SST-2) is left out."""
    check_languages(spec, datasets, "--hf")
    parts = []
    for lang, path in sorted(datasets.items()):
        for split, examples in read_splits(spec, path).items():
            if split == "train" and lang != "en":
                continue  # zero-shot transfer trains on English only
            part = check_examples(spec, examples, Part(split, lang, f"{path}[{split}]"))
            if part.examples or not part.skipped:
                parts.append(part)
    return parts


def source_files(
    spec: TaskSpec, raw: Path, languages: set[str] | None, train: TrainLanguages = ENGLISH
) -> list[tuple]:
    """(source, language, path) of every file to read under ``raw``: the training files of the
    languages of ``train`` (in its order), then the dev and test files of ``languages``.

    ``{lang}`` patterns are globbed; a dev or train pattern matching nothing is an error.
    """
    if not raw.is_dir():
        raise DataError(raw, "raw data folder not found")
    others = [lang for lang in train.languages if lang != "en" and lang not in train.files]
    translated = {lang: (s, lang, path) for s, lang, path in translated_files(spec, raw, others)}
    files = []
    for lang in train.languages:
        if lang in train.files:
            path = train.files[lang]
            files.append((user_file_source(spec, path), lang, path))
        elif lang == "en":
            files += [
                (source, found_lang, path)
                for source in own_train_sources(spec)
                for found_lang, path in _source_paths(spec, raw, source)
            ]
        else:
            files.append(translated[lang])
    for source in spec.sources:
        if source.split != "train":
            files += [
                (source, lang, path)
                for lang, path in _source_paths(spec, raw, source)
                if languages is None or lang in languages
            ]
    files += [
        (user_file_source(spec, path, "dev"), lang, path) for lang, path in train.dev_files.items()
    ]
    return files


def _source_paths(spec: TaskSpec, raw: Path, source: Source) -> list[tuple[str, Path]]:
    if "*" in source.pattern and "{lang}" not in source.pattern:
        found = [(source.lang, path) for path in sorted(raw.glob(source.pattern))]
    elif "{lang}" not in source.pattern:
        return [(source.lang, raw / source.pattern)]
    else:
        found = _glob_languages(spec, raw, source.pattern)
    if not found and source.split != "test":
        raise DataError(raw / source.pattern, f"no file matches this {source.split} pattern")
    return found


def _glob_languages(spec: TaskSpec, raw: Path, pattern: str) -> list[tuple[str, Path]]:
    # A pattern may name the language twice (MLQA's dev-context-{lang}-question-{lang}.json):
    # only files with the same language in both places match.
    escaped = re.escape(pattern).replace(r"\{lang\}", "(?P<lang>[^/]+)", 1)
    regex = re.compile(escaped.replace(r"\{lang\}", "(?P=lang)") + "$")
    found = []
    for path in sorted(raw.glob(pattern.replace("{lang}", "*"))):
        match = regex.search(path.relative_to(raw).as_posix())
        if match is None:
            continue
        lang = match.group("lang")
        check_languages(spec, [lang], str(path))
        found.append((lang, path))
    return found
