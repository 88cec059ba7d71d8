"""Extractive-QA scores (exact match and token F1) as the official evaluation scripts compute them.

Two rule sets, chosen by ``lang``:

* ``lang=None``: the SQuAD v1.1 script. XQuAD and TyDiQA-GoldP are scored with these rules in every
  language, so an unsegmented Chinese or Thai answer is a single token.
* ``lang="<code>"``: the MLQA v1 script (``mlqa_evaluation_v1.py``) for the answer language, one of
  :data:`MLQA_LANGUAGES`.

Per question, EM and F1 are the maxima over the gold answers; a corpus score is 100 times the mean
over the reference questions. Behaviour of the official scripts kept here because it changes
numbers:

* A prediction and a gold answer that both normalise to the empty string get EM 1 but F1 0 (F1 is 0
  whenever no token is shared).
* A reference question without a prediction counts as 0 and stays in the denominator; the number of
  such questions is reported as ``"missing"``. Predictions for ids that are not in the references
  are ignored.
* MLQA removes every character whose Unicode category starts with "P" (as given by this Python's
  ``unicodedata``) plus ASCII ``string.punctuation``; Arabic ``ال`` is replaced by a space wherever
  it occurs, also inside a word; only U+4E00-U+9FA5 are split into one token per character for
  Chinese. SQuAD removes ASCII punctuation only.

Scores are also available as sums (:class:`QASums`) so that batches or ranks can be reduced exactly:
add the sums, then call :meth:`QASums.scores` once.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_ASCII_PUNCTUATION = frozenset(string.punctuation)
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")

# Article patterns of the MLQA script; None where the language has no articles to drop.
_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "ar": re.compile("ال"),  # no word boundaries: also removed from inside words
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "en": _ENGLISH_ARTICLES,
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "hi": None,
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "zh": None,
}
_MIXED_SEGMENTATION_LANGUAGES = frozenset({"zh"})

MLQA_LANGUAGES: tuple[str, ...] = tuple(sorted(_MLQA_ARTICLES))
"""Answer languages the MLQA rules know."""


def check_mlqa_language(lang: str) -> None:
    """Raise ValueError unless ``lang`` is one of :data:`MLQA_LANGUAGES`."""
    if lang not in _MLQA_ARTICLES:
        raise ValueError(
            f"MLQA scoring has no rules for language {lang!r}; supported: {', '.join(MLQA_LANGUAGES)}"
        )


def normalize_squad(text: str) -> str:
    """SQuAD v1.1: lowercase, drop ASCII punctuation, drop a/an/the, squeeze whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCTUATION)
    return " ".join(_ENGLISH_ARTICLES.sub(" ", text).split())


def is_mlqa_punctuation(ch: str) -> bool:
    """True for a character the MLQA script removes: Unicode category P* or ASCII punctuation."""
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def mixed_segmentation(text: str) -> list[str]:
    """MLQA's Chinese tokens: each U+4E00-U+9FA5 or punctuation character alone, the rest split on whitespace."""
    tokens: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if "\u4e00" <= ch <= "\u9fa5" or is_mlqa_punctuation(ch):
            tokens.extend(text[start:i].split())
            tokens.append(ch)
            start = i + 1
    tokens.extend(text[start:].split())
    return tokens


def normalize_mlqa(text: str, lang: str) -> str:
    """MLQA v1: lowercase, drop punctuation and the language's articles, re-tokenise, join by spaces."""
    check_mlqa_language(lang)
    text = "".join(ch for ch in text.lower() if not is_mlqa_punctuation(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = mixed_segmentation(text) if lang in _MIXED_SEGMENTATION_LANGUAGES else text.split()
    return " ".join(token for token in tokens if token.strip())


def normalizer(lang: str | None) -> Callable[[str], str]:
    """The normalisation for ``lang``: SQuAD v1.1 for None, else MLQA's for that language."""
    if lang is None:
        return normalize_squad
    check_mlqa_language(lang)
    return lambda text: normalize_mlqa(text, lang)


def token_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    """Harmonic mean of token precision and recall (multiset overlap); 0 when nothing is shared."""
    shared = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(prediction_tokens)
    recall = shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def question_scores(
    prediction: str, answers: Sequence[str], lang: str | None = None
) -> tuple[float, float]:
    """(EM, F1) of one prediction, each in [0, 1] and maximised over the gold ``answers``.

    No gold answers means an unanswerable SQuAD v2.0 question: scored as the v2.0 script does,
    1 for both when the prediction normalises to empty, else 0.
    """
    normalize = normalizer(lang)
    predicted = normalize(prediction)
    if not answers:
        return (float(predicted == ""),) * 2
    predicted_tokens = predicted.split()
    exact = f1 = 0.0
    for answer in answers:
        gold = normalize(answer)
        exact = max(exact, float(predicted == gold))
        f1 = max(f1, token_f1(predicted_tokens, gold.split()))
    return exact, f1


@dataclass(frozen=True)
class QASums:
    """Unnormalised totals over questions; add them across batches, then call :meth:`scores`."""

    exact_match: float = 0.0  # sum of per-question EM (each 0 or 1)
    f1: float = 0.0  # sum of per-question F1 (each in [0, 1])
    count: int = 0  # reference questions, answered or not
    missing: int = 0  # reference questions without a prediction (scored 0)

    def __add__(self, other: QASums) -> QASums:
        return QASums(
            self.exact_match + other.exact_match,
            self.f1 + other.f1,
            self.count + other.count,
            self.missing + other.missing,
        )

    def scores(self) -> dict[str, float | int]:
        """``exact_match`` and ``f1`` as percentages of ``count``, plus ``count`` and ``missing``."""
        if self.count == 0:
            raise ValueError("no questions were scored")
        return {
            "exact_match": 100.0 * self.exact_match / self.count,
            "f1": 100.0 * self.f1 / self.count,
            "count": self.count,
            "missing": self.missing,
        }


def qa_sums(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    lang: str | None = None,
) -> QASums:
    """Totals over the questions of ``references`` (id -> gold answers); missing predictions score 0."""
    if lang is not None:
        check_mlqa_language(lang)
    exact_total = f1_total = 0.0
    missing = 0
    for question_id, answers in references.items():
        if question_id not in predictions:
            missing += 1
            continue
        if not answers:
            raise ValueError(f"question {question_id!r} has no gold answers")
        exact, f1 = question_scores(predictions[question_id], answers, lang)
        exact_total += exact
        f1_total += f1
    return QASums(exact_total, f1_total, len(references), missing)


def squad_scores(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float | int]:
    """SQuAD v1.1 (also XQuAD, TyDiQA-GoldP) corpus scores: exact_match, f1, count, missing."""
    return qa_sums(predictions, references).scores()


def mlqa_scores(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]], lang: str
) -> dict[str, float | int]:
    """MLQA v1 corpus scores for answer language ``lang``: exact_match, f1, count, missing."""
    check_mlqa_language(lang)
    return qa_sums(predictions, references, lang).scores()
