"""Collect a task's raw examples (files in the spec's layout or local HF datasets) and check them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fairseq_stilts.data.hf_local import (
    UNLABELLED,
    read_hf_choices,
    read_hf_local,
    read_hf_tagged,
)
from fairseq_stilts.data.readers import Example
from fairseq_stilts.data.train_languages import (
    TrainLanguages,
    own_train_sources,
    translated_files,
    user_file_source,
)
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.registry import Source, TaskSpec, get_reader

ENGLISH = TrainLanguages()  # zero-shot transfer trains on English only


@dataclass
class Part:
    """Checked examples of one split in one language from one origin (file or dataset)."""

    split: str
    lang: str
    origin: str
    texts: list[tuple[str, ...]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: int = 0


def check_languages(spec: TaskSpec, languages: Iterable[str], where: str) -> None:
    unknown = sorted(set(languages) - set(spec.languages))
    if unknown:
        raise StiltsError(
            f"{where}: language(s) {unknown} not in task {spec.name!r}; valid: {' '.join(spec.languages)}"
        )


def check_examples(spec: TaskSpec, examples: Iterable[Example], part: Part) -> Part:
    """Fill ``part`` with examples whose texts are non-empty and labels known."""
    for ex in examples:
        if ex.label in spec.skip_labels or ex.label == UNLABELLED:
            part.skipped += 1
            continue
        label = spec.canonical_label(ex.label)
        if label not in spec.labels:
            raise DataError(
                ex.path, f"unknown label {ex.label!r}; expected one of {list(spec.labels)}", ex.line
            )
        for name, text in zip(spec.field_names, ex.texts, strict=True):
            if not text.strip():
                raise DataError(ex.path, f"empty text in field {name!r}", ex.line)
        part.texts.append(ex.texts)
        part.labels.append(spec.labels.index(label))
    return part


def parts_from_files(
    spec: TaskSpec, raw: Path, languages: set[str] | None, train: TrainLanguages = ENGLISH
) -> list[Part]:
    """Read every file of the spec's layout under ``raw`` (training files: those of ``train``);
    ``{lang}`` patterns are globbed."""
    parts = []
    for source, lang, path in source_files(spec, raw, languages, train):
        reader = get_reader(source.reader)
        examples = reader(path, source.columns, spec.field_names, source.header)
        parts.append(check_examples(spec, examples, Part(source.split, lang, str(path))))
    return parts


def parts_from_hf(spec: TaskSpec, datasets: dict[str, Path]) -> list[Part]:
    """Read local HF datasets of a classification or multiple-choice task given per language
    (``{"de": Path(...)}``). A split without any gold label (the Hub's test splits of HellaSwag,
    CommonsenseQA, Cosmos QA, SST-2) is left out."""
    check_languages(spec, datasets, "--hf")
    parts = []
    for lang, path in sorted(datasets.items()):
        if spec.family == "classification":
            splits = read_hf_local(path, spec.input_fields)
        elif spec.family == "multiple_choice":
            splits = read_hf_choices(path, spec.sources[0].reader, spec.field_names)
        else:
            raise StiltsError(
                f"task {spec.name!r}: --hf datasets are not supported for the {spec.family} family"
            )
        for split, examples in splits.items():
            if split == "train" and lang != "en":
                continue  # zero-shot transfer trains on English only
            part = check_examples(spec, examples, Part(split, lang, f"{path}[{split}]"))
            if part.texts or not part.skipped:
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


# Tagging: Part.texts holds each sentence's words, Part.labels each sentence's tag indices.


def tagging_parts_from_files(
    spec: TaskSpec, raw: Path, languages: set[str] | None
) -> tuple[list[Part], tuple[str, ...]]:
    """Read a tagging task's files; return the parts and the label set.

    The label set is the spec's; a spec without one (CCG) takes the tags of the training file,
    in order of first appearance, and dev/test tags outside it are an error.
    """
    files = source_files(spec, raw, languages)
    # training files first: they define the label set of a spec without one
    files.sort(key=lambda item: item[0].split != "train")
    labels = list(spec.labels)
    parts = []
    for source, lang, path in files:
        reader = get_reader(source.reader)
        sentences = reader(path, source.columns, spec.field_names, source.header, lang=lang)
        derive = not spec.labels and source.split == "train"
        part = Part(source.split, lang, str(path))
        parts.append(check_tagged(sentences, part, labels, derive, bool(spec.labels)))
    return parts, tuple(labels)


def check_tagged(
    sentences, part: Part, labels: list[str], derive: bool = False, fixed: bool = True
) -> Part:
    """Fill ``part`` with sentences whose tags are in ``labels`` (extended when ``derive``)."""
    index = {label: i for i, label in enumerate(labels)}
    for sentence in sentences:
        ids = []
        for tag, line in zip(sentence.tags, sentence.lines, strict=True):
            if tag not in index:
                if not derive:
                    shown = labels if len(labels) <= 40 else [*labels[:40], "..."]
                    where = "" if fixed else " (not in the training file's tags)"
                    raise DataError(
                        sentence.path, f"unknown tag {tag!r}{where}; expected one of {shown}", line
                    )
                index[tag] = len(labels)
                labels.append(tag)
            ids.append(index[tag])
        part.texts.append(sentence.tokens)
        part.labels.append(ids)
    return part


def tagging_parts_from_hf(
    spec: TaskSpec, datasets: dict[str, Path]
) -> tuple[list[Part], tuple[str, ...]]:
    """Read a tagging task's local HF datasets given per language; return the parts and the
    label set (as :func:`tagging_parts_from_files`: a spec without one takes the training tags)."""
    check_languages(spec, datasets, "--hf")
    found = [
        (split, lang, path, sentences)
        for lang, path in sorted(datasets.items())
        for split, sentences in read_hf_tagged(path).items()
        if split != "train" or lang == "en"  # zero-shot transfer trains on English only
    ]
    found.sort(key=lambda item: item[0] != "train")  # the training tags define a derived set
    labels = list(spec.labels)
    parts = []
    for split, lang, path, sentences in found:
        derive = not spec.labels and split == "train"
        part = Part(split, lang, f"{path}[{split}]")
        parts.append(check_tagged(sentences, part, labels, derive, bool(spec.labels)))
    return parts, tuple(labels)
