"""SQuAD-format JSON (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP): questions with their context.

JSON has no useful line numbers, so errors name the file and the field's path in the document
(``data[0].paragraphs[2].qas[1].answers[0]``) and the question's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.data.prepare.readers import readers, require_file
from fairseq_stilts.errors import DataError, read_json

# TyDiQA ids start with the language's English name: "english-123...".
TYDIQA_LANGUAGES = {
    "arabic": "ar",
    "bengali": "bn",
    "english": "en",
    "finnish": "fi",
    "indonesian": "id",
    "japanese": "ja",
    "korean": "ko",
    "russian": "ru",
    "swahili": "sw",
    "telugu": "te",
    "thai": "th",
}


@dataclass(frozen=True)
class Question:
    """One question of a SQuAD-format file; ``answers`` is empty for an unanswerable one and for
    one without gold answers (``gold`` False: XTREME's test files have their answers removed)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    path: str
    where: str
    gold: bool = True

    def error(self, message: str) -> DataError:
        return DataError(self.path, f"{self.where} (id {self.id!r}): {message}")

    @property
    def id_language(self) -> str:
        """The language a TyDiQA id names by its prefix."""
        prefix = self.id.split("-", 1)[0]
        if prefix not in TYDIQA_LANGUAGES:
            raise self.error(
                f"id does not start with a TyDiQA language name ({', '.join(TYDIQA_LANGUAGES)})"
            )
        return TYDIQA_LANGUAGES[prefix]


def _field(record, key: str, kind: type, path: Path, where: str):
    if not isinstance(record, dict) or key not in record:
        raise DataError(path, f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(
            path, f"{where}.{key}: expected {kind.__name__}, found {type(value).__name__}"
        )
    return value


@readers.register("squad_json")
def read_squad_json(path: Path, *_unused, **_also_unused) -> Iterator[Question]:
    """Every question of a SQuAD-format file, in file order.

    A question has ``answers`` with ``text`` and ``answer_start``, or is marked
    ``is_impossible`` (SQuAD v2.0), or has neither (no gold: the caller decides whether that is
    allowed); offsets are checked against the context by the caller, which
    knows whether they are used.
    """
    path = Path(path)
    require_file(path)
    document = read_json(path)
    for i, article in enumerate(_field(document, "data", list, path, "top level")):
        for j, paragraph in enumerate(_field(article, "paragraphs", list, path, f"data[{i}]")):
            where = f"data[{i}].paragraphs[{j}]"
            context = _field(paragraph, "context", str, path, where)
            for k, qa in enumerate(_field(paragraph, "qas", list, path, where)):
                yield _question(qa, context, path, f"{where}.qas[{k}]")


def _question(qa, context: str, path: Path, where: str) -> Question:
    qid = _field(qa, "id", str, path, where)
    text = _field(qa, "question", str, path, where)
    if not text.strip():
        raise DataError(path, f"{where} (id {qid!r}): empty question")
    impossible = qa.get("is_impossible", False) is True
    answers = (
        [] if impossible and not qa.get("answers") else _field(qa, "answers", list, path, where)
    )
    texts, starts = [], []
    for a, answer in enumerate(answers):
        texts.append(_field(answer, "text", str, path, f"{where}.answers[{a}]"))
        starts.append(_field(answer, "answer_start", int, path, f"{where}.answers[{a}]"))
    if not impossible and not any(texts):
        # No gold: no answers at all, or XTREME's stripped form, one answer with empty text.
        return Question(qid, text, context, (), (), str(path), where, gold=False)
    return Question(qid, text, context, tuple(texts), tuple(starts), str(path), where)
