"""How each retrieval task reads a language, predicts its XTREME submission file and scores it.

All input is read (and checked) by ``read`` before anything is embedded; ``predict`` gets a
function from sentences to L2-normalised embeddings. Importing this module does not import
torch (``stilts-retrieve --help`` stays light): the metrics are imported to predict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.retrieval.data import (
    BuccLanguage,
    TatoebaPair,
    check_languages,
    read_bucc_language,
    read_tatoeba,
)
from fairseq_stilts.metrics.pairs import pair_counts_by_source
from fairseq_stilts.registry import TaskSpec

Embed = Callable[[Sequence[str]], Any]  # sentences -> rows of embeddings


@dataclass(frozen=True)
class Prediction:
    """One language: the text of its ``test-<lang>.tsv``, and its scores (metric -> value;
    None without gold) with what else the results record."""

    submission: str
    scores: dict[str, float] | None
    details: dict[str, float] = field(default_factory=dict)
    counts: list[dict[str, int]] = field(default_factory=list)  # per example (metrics/sums.py)


@dataclass(frozen=True)
class Retriever:
    read: Callable[[TaskSpec, Path, str], Any]
    predict: Callable[[Any, Embed, str], Prediction]
    no_gold: str  # how XTREME's download hides the task's test gold
    counted: bool  # a submission file has one line per test example


def _tatoeba(pair: TatoebaPair, embed: Embed, device: str) -> Prediction:
    from fairseq_stilts.metrics import retrieval as metrics

    predicted = metrics.tatoeba_predictions(embed(pair.english), embed(pair.other), device=device)
    text = "".join(f"{index}\n" for index in predicted)
    if not pair.labelled:
        return Prediction(text, None)
    hits = [int(index == line) for line, index in enumerate(predicted)]
    counts = [{"ncorrect": hit, "nsentences": 1} for hit in hits]
    return Prediction(text, {"accuracy": metrics.aligned_accuracy(predicted)}, counts=counts)


def _bucc(language: BuccLanguage, embed: Embed, device: str) -> Prediction:
    from fairseq_stilts.metrics import retrieval as metrics

    mined = {}
    for name, part in (("dev", language.dev), ("test", language.test)):
        source, target = embed(list(part.source.values())), embed(list(part.target.values()))
        mined[name] = metrics.mine_pairs(part.source, source, part.target, target, device=device)
    if not language.labelled:
        threshold = metrics.optimize_threshold(mined["dev"], language.dev.gold)
        return Prediction(_pairs_text(metrics.extracted_pairs(mined["test"], threshold)), None)
    found = metrics.bucc_scores(mined["dev"], language.dev.gold, mined["test"], language.test.gold)
    scores = {f"bucc_{key}": found[key] for key in ("f1", "precision", "recall")}
    details = {"threshold": found["threshold"], "dev_f1": found["dev_f1"]}
    pairs = metrics.extracted_pairs(mined["test"], found["threshold"])
    counts = pair_counts_by_source(pairs, language.test.gold, language.test.source)
    return Prediction(_pairs_text(pairs), scores, details, counts)


def _pairs_text(pairs: list[tuple[str, str]]) -> str:
    """BUCC's submission: the mined test pairs at the dev-tuned threshold, a pair per line."""
    return "".join(f"{source}\t{target}\n" for source, target in pairs)


RETRIEVERS = {
    "tatoeba": Retriever(read_tatoeba, _tatoeba, "the English side is in sorted order", True),
    "bucc": Retriever(read_bucc_language, _bucc, "no test gold file", False),
}


def get_retriever(task: str) -> Retriever:
    if task not in RETRIEVERS:
        raise StiltsError(f"unknown retrieval task {task!r}; choose one of {', '.join(RETRIEVERS)}")
    return RETRIEVERS[task]


def read_test_sets(spec: TaskSpec, raw: Path, languages: list[str] | None) -> dict[str, Any]:
    """Each requested language's data (default: every language found in ``raw``), checked."""
    read = get_retriever(spec.name).read
    return {lang: read(spec, raw, lang) for lang in check_languages(spec, raw, languages)}
