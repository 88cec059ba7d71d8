"""Parts (checked examples of one split, language and origin) grouped into fairseq subsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fairseq_stilts.data.prepare.request import PrepareRequest
from fairseq_stilts.errors import DataError, StiltsError

T = TypeVar("T")


@dataclass
class Part(Generic[T]):
    """Checked examples of one split in one language from one origin (file or dataset).

    An example is what the family reads: a tuple of texts (classification, multiple choice),
    a sentence's words (tagging, with its tag indices in ``labels``) or a question (span QA).
    ``labelled`` is False for a test file without gold labels (its ``labels`` are placeholders).
    """

    split: str
    lang: str
    origin: str
    examples: list[T] = field(default_factory=list)
    labels: list = field(default_factory=list)
    skipped: int = 0
    labelled: bool = True

    def mark_unlabelled(self, path: str, line: int | None = None) -> None:
        """Record that the part's file has no gold labels: accepted for a test set only."""
        if self.split != "test":
            raise DataError(
                path,
                f"no gold labels in a {self.split} file (only a test file may come without them)",
                line,
            )
        self.labelled = False


def group_subsets(parts: list[Part], request: PrepareRequest) -> dict[str, list[Part]]:
    """Group parts into fairseq subsets: train (train.<lang> too unless it is English only),
    valid (English dev), valid.<lang>, test.<lang>, and valid.all (every dev language's
    examples together) where there is dev data in several languages.

    Every language of ``request.languages`` must have dev or test data."""
    task = request.spec.name
    if request.languages:
        found = {p.lang for p in parts if p.split != "train"}
        absent = sorted(set(request.languages) - found)
        if absent:
            raise StiltsError(
                f"--languages: no dev or test data for {absent} (found: {sorted(found)})"
            )
    subsets: dict[str, list[Part]] = {"train": [p for p in parts if p.split == "train"]}
    train_languages = train_language_counts(subsets["train"])
    if list(train_languages) != ["en"]:
        for lang, count in train_languages.items():
            subsets[f"train.{lang}"] = [p for p in subsets["train"] if p.lang == lang]
            if not count:
                origins = ", ".join(p.origin for p in subsets[f"train.{lang}"])
                raise StiltsError(
                    f"task {task!r}: no training examples in language {lang} ({origins})"
                )
    subsets["valid"] = [p for p in parts if p.split == "dev" and p.lang == "en"]
    for split, prefix in (("dev", "valid"), ("test", "test")):
        for lang in sorted({p.lang for p in parts if p.split == split}):
            subsets[f"{prefix}.{lang}"] = [p for p in parts if p.split == split and p.lang == lang]
    if len({p.lang for p in parts if p.split == "dev"}) > 1:  # to select on every dev language
        subsets["valid.all"] = [p for p in parts if p.split == "dev"]
    for name in ("train", "valid"):
        if not any(p.examples for p in subsets[name]):
            what = "training" if name == "train" else "English dev"
            origins = ", ".join(p.origin for p in subsets[name]) or "no file"
            raise StiltsError(
                f"task {task!r}: no {what} examples found in {origins} (subset {name!r} would "
                "be empty)"
            )
    return subsets


def train_language_counts(train: list[Part]) -> dict[str, int]:
    """Training examples per language, in the order of the ``train`` subset (whose languages
    follow each other: see :func:`~fairseq_stilts.data.prepare.examples.source_files`)."""
    counts: dict[str, int] = {}
    for part in train:
        counts[part.lang] = counts.get(part.lang, 0) + len(part.examples)
    return counts


def distinct_parts(subsets: dict[str, list[Part]]) -> list[Part]:
    """Every part once (a part can be in two subsets: train and train.<lang>)."""
    return list({id(p): p for members in subsets.values() for p in members}.values())
