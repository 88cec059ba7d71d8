"""Read one language of a retrieval task from its raw files (the spec's ``sources``), checked.

Tatoeba: two files of equal length, line i of one translating line i of the other, unless the
English side is in sorted order: XTREME's download sorts it to hide the alignment, so such a pair
has no gold and is only predicted. BUCC, per split: ``id -> sentence`` maps of both sides (ids
unique) and gold id pairs whose ids exist; the test gold may be absent (XTREME's download deletes
it): that split is mined at the threshold tuned on dev, and not scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.registry import Source, TaskSpec


@dataclass(frozen=True)
class TatoebaPair:
    other: list[str]
    english: list[str]
    labelled: bool = True  # False: the English side is sorted, not aligned

    @property
    def examples(self) -> int:
        """Test examples: the English lines, each a query."""
        return len(self.english)


@dataclass(frozen=True)
class BuccSplit:
    source: dict[str, str]  # the non-English side: id -> sentence, in file order
    target: dict[str, str]  # English
    gold: list[tuple[str, str]] | None  # None: no gold file (a test split without labels)


@dataclass(frozen=True)
class BuccLanguage:
    """One BUCC language: dev (its gold tunes the threshold) and test."""

    dev: BuccSplit
    test: BuccSplit

    @property
    def examples(self) -> int:
        """Test examples: the non-English sentences to mine."""
        return len(self.test.source)

    @property
    def labelled(self) -> bool:
        return self.test.gold is not None


def source_path(raw: Path, source: Source, lang: str) -> Path:
    return Path(raw) / source.pattern.format(lang=lang)


def _is_test_gold(source: Source) -> bool:
    return source.split == "test" and "source_id" in source.columns


def check_languages(spec: TaskSpec, raw: Path, languages: list[str] | None) -> list[str]:
    """The requested languages (all valid), or every language whose files are all in ``raw``."""
    if languages:
        unknown = [lang for lang in languages if lang not in spec.languages]
        if unknown:
            raise StiltsError(
                f"--languages: {spec.name} has no language(s) {unknown}; "
                f"valid: {' '.join(spec.languages)}"
            )
        return list(dict.fromkeys(languages))
    if not Path(raw).is_dir():
        raise StiltsError(f"{raw}: raw data folder not found")
    found = []
    for lang in spec.languages:
        paths = [source_path(raw, s, lang) for s in spec.sources if not _is_test_gold(s)]
        missing = [p for p in paths if not p.is_file()]
        if len(missing) < len(paths) and missing:  # a language is all there or absent
            raise DataError(missing[0], f"missing, but {raw} has other {lang} files of {spec.name}")
        if not missing:
            found.append(lang)
    if not found:
        patterns = ", ".join(s.pattern for s in spec.sources)
        raise StiltsError(f"{raw}: no {spec.name} files for any language (expected {patterns})")
    return found


def _read(raw: Path, source: Source, lang: str, fields: tuple[str, ...]):
    path = source_path(raw, source, lang)
    return list(get_reader(source.reader)(path, source.columns, fields, source.header))


def read_tatoeba(spec: TaskSpec, raw: Path, lang: str) -> TatoebaPair:
    by_side = {}
    for source in spec.sources:
        side = "en" if source.lang == "en" else "other"
        by_side[side] = (
            source_path(raw, source, lang),
            _read(raw, source, lang, spec.input_fields),
        )
    (other_path, other), (en_path, english) = by_side["other"], by_side["en"]
    if not other:
        raise DataError(other_path, "no sentences: the file is empty")
    if len(other) != len(english):
        raise DataError(
            other_path,
            f"{len(other)} lines but {en_path} has {len(english)}: "
            "line i of each file must translate line i of the other",
        )
    other, english = [e.texts[0] for e in other], [e.texts[0] for e in english]
    stripped = [line.strip() for line in english]
    return TatoebaPair(other, english, labelled=len(english) < 2 or stripped != sorted(stripped))


def _sentences(raw: Path, source: Source, lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for example in _read(raw, source, lang, ()):
        sentence_id, sentence = example.texts
        if sentence_id in out:
            raise DataError(example.path, f"duplicate id {sentence_id!r}", example.line)
        out[sentence_id] = sentence
    return out


def read_bucc(spec: TaskSpec, raw: Path, lang: str, split: str) -> BuccSplit:
    sides: dict[str, tuple[Path, dict[str, str]]] = {}
    gold_source = None
    for source in spec.sources:
        if source.split != split:
            continue
        if "source_id" in source.columns:
            gold_source = source
        else:
            side = "en" if source.lang == "en" else lang
            sides[side] = (source_path(raw, source, lang), _sentences(raw, source, lang))
    if gold_source is None or set(sides) != {"en", lang}:
        raise StiltsError(f"spec {spec.name!r} has no complete {split} file layout")
    if _is_test_gold(gold_source) and not source_path(raw, gold_source, lang).exists():
        return BuccSplit(sides[lang][1], sides["en"][1], None)
    gold = []
    for example in _read(raw, gold_source, lang, ()):
        for sentence_id, side in zip(example.texts, (lang, "en"), strict=True):
            path, sentences = sides[side]
            if sentence_id not in sentences:
                raise DataError(
                    example.path, f"gold id {sentence_id!r} is not in {path}", example.line
                )
        gold.append(example.texts)
    return BuccSplit(sides[lang][1], sides["en"][1], gold)


def read_bucc_language(spec: TaskSpec, raw: Path, lang: str) -> BuccLanguage:
    return BuccLanguage(read_bucc(spec, raw, lang, "dev"), read_bucc(spec, raw, lang, "test"))
