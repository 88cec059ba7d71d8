"""Scoring an XTREME submission folder against a gold folder of the same layout, with the rules of
XTREME's leaderboard script (``evaluate.py`` of google-research/xtreme; docs/scoring.md).

Both folders hold a subfolder per task (named by its spec's ``xtreme_name``) with a file ``test-<lang>.json`` (QA) or ``test-<lang>.tsv`` (the others) per language. A task is
scored when both folders have its subfolder, and then needs a file for each of its languages on
both sides. Lines are stripped of surrounding white space; a UTF-8 byte-order mark, CRLF line
ends and a missing final newline are accepted. Every problem with a file is a
:class:`~fairseq_stilts.errors.DataError` naming it (and the line, where there is one).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts import families  # noqa: F401  (registers the specs and families; no fairseq)
from fairseq_stilts.data.prepare.readers import read_lines
from fairseq_stilts.errors import DataError, read_json
from fairseq_stilts.families.span_qa.squad_json import read_squad_json
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.results.categories import XTREME_TASKS, category_scores, overall_score
from fairseq_stilts.results.scores import official_metrics

Scores = dict[str, float]


@dataclass(frozen=True)
class TaskScores:
    """One task: language -> metric -> value (``score``, the language's number: the mean of the
    task's official metrics), and the task score, the mean of those over the languages."""

    languages: dict[str, Scores]
    score: float


@dataclass(frozen=True)
class SubmissionScores:
    """Every scored task (XTREME order), why the others were not, the category scores that exist,
    the XTREME score (None unless all nine tasks were scored) and warnings about the files."""

    tasks: dict[str, TaskScores]
    missing: dict[str, str]
    categories: dict[str, float]
    overall: float | None
    warnings: tuple[str, ...]
    partial: bool = False  # over the predicted languages only

    def as_json(self) -> dict:
        """The numbers as a JSON-ready dict."""
        return {
            "tasks": {
                task: {
                    "folder": get_spec(task).xtreme_name,
                    "score": scores.score,
                    "languages": scores.languages,
                }
                for task, scores in self.tasks.items()
            },
            "categories": self.categories,
            "overall": self.overall,
            "missing": self.missing,
            "warnings": list(self.warnings),
            "partial": self.partial,
        }


def score_submission(predictions: Path, gold: Path, partial: bool = False) -> SubmissionScores:
    """Score the XTREME submission folder ``predictions`` against the gold folder ``gold``;
    ``partial``: each task over the languages it has predictions for (not the leaderboard's
    number: the languages left out are listed in the warnings)."""
    predictions, gold = Path(predictions), Path(gold)
    folders = {task: get_spec(task).xtreme_name for task in XTREME_TASKS}
    for folder in (predictions, gold):
        if not folder.is_dir():
            raise DataError(folder, "not a folder" if folder.exists() else "folder not found")
    warnings = [
        f"{path}: not an XTREME task folder; ignored"
        for path in sorted(predictions.iterdir())
        if path.is_dir() and not path.name.startswith(".") and path.name not in folders.values()
    ]
    tasks: dict[str, TaskScores] = {}
    missing: dict[str, str] = {}
    for task, folder in folders.items():
        if not (predictions / folder).is_dir():
            missing[task] = f"no {folder}/ in the predictions"
        elif not (gold / folder).is_dir():
            missing[task] = f"no {folder}/ in the gold folder"
        else:
            tasks[task] = score_task(task, predictions / folder, gold / folder, warnings, partial)
    task_scores = {task: scores.score for task, scores in tasks.items()}
    return SubmissionScores(
        tasks,
        missing,
        category_scores(task_scores),
        overall_score(task_scores),
        tuple(warnings),
        partial,
    )


def score_task(
    task: str, predictions: Path, gold: Path, warnings: list[str], partial: bool = False
) -> TaskScores:
    """Score every language of ``task`` (``partial``: those predicted): files
    ``test-<lang>.<suffix>`` in both folders."""
    spec = get_spec(task)
    suffix = get_family(spec.family).submission_suffix
    languages = spec.languages
    if partial:
        languages = tuple(
            lang for lang in spec.languages if (predictions / f"test-{lang}{suffix}").exists()
        )
        left_out = [lang for lang in spec.languages if lang not in languages]
        if left_out:
            warnings.append(f"{predictions}: partial score, without {' '.join(left_out)}")
        if not languages:
            raise DataError(predictions, f"no test-<lang>{suffix} file of any {task} language")
    for folder in (predictions, gold):
        names = [f"test-{lang}{suffix}" for lang in languages]
        absent = [name for name in names if not (folder / name).exists()]
        if absent:
            raise DataError(
                folder,
                f"no {', '.join(absent)}: {task} needs a file for each of its "
                f"{len(spec.languages)} languages ({' '.join(spec.languages)})",
            )
    warnings.extend(
        f"{path}: {task} has no language {path.stem.removeprefix('test-')!r}; ignored"
        for path in sorted(predictions.glob(f"test-*{suffix}"))
        if path.stem.removeprefix("test-") not in spec.languages
    )
    scorer = SCORERS[spec.scoring]
    scored = {}
    for lang in languages:
        name = f"test-{lang}{suffix}"
        scores = scorer(predictions / name, gold / name, lang)
        if scores.get("missing"):
            warnings.append(
                f"{predictions / name}: {scores['missing']} of the {scores['count']} gold "
                "questions have no answer (scored 0)"
            )
        scores["score"] = statistics.fmean(scores[m] for m in official_metrics(task))
        scored[lang] = scores
    return TaskScores(scored, statistics.fmean(s["score"] for s in scored.values()))


# --- readers: the official script's, with each problem named by file and line -------------------


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of every line."""
    return [(number, text.strip()) for number, text in read_lines(path)]


def _same_count(predictions: Path, predicted: list, gold: Path, expected: list, what: str) -> None:
    if not expected:
        raise DataError(gold, f"no {what} to score")
    if len(predicted) != len(expected):
        raise DataError(predictions, f"{len(predicted)} {what}, but {gold} has {len(expected)}")


def _sentences(path: Path) -> list[tuple[int, list[str]]]:
    """(first line, tags) of each sentence; as XTREME's reader, every blank line ends one (two
    blank lines in a row make an empty sentence) and the end of the file ends a non-empty one."""
    sentences: list[tuple[int, list[str]]] = []
    start, tags = 0, []
    for number, tag in _lines(path):
        if tag:
            start = start or number
            tags.append(tag)
        else:
            sentences.append((start or number, tags))
            start, tags = 0, []
    if tags:
        sentences.append((start, tags))
    return sentences


def _pairs(path: Path) -> set[tuple[str, str]]:
    """The distinct ``source id<TAB>target id`` pairs of a BUCC file."""
    pairs = set()
    for number, text in _lines(path):
        pair = tuple(text.split("\t"))
        if len(pair) != 2 or not all(pair):
            raise DataError(path, "expected a pair `source id<TAB>target id`", number)
        pairs.add(pair)
    return pairs


def _answers(path: Path) -> dict[str, str]:
    """A QA prediction file: a JSON object of question id -> answer text."""
    answers = read_json(path)
    if not isinstance(answers, dict):
        raise DataError(
            path, f"expected a JSON object of question id -> answer, found {type(answers).__name__}"
        )
    for question_id, answer in answers.items():
        if not isinstance(answer, str):
            raise DataError(
                path,
                f"question {question_id!r}: the answer is a {type(answer).__name__}, not a string",
            )
    return answers


def _references(path: Path) -> dict[str, tuple[str, ...]]:
    """Question id -> gold answer texts of a SQuAD-format gold file."""
    references: dict[str, tuple[str, ...]] = {}
    for question in read_squad_json(path):
        if not question.answers:
            raise question.error("no gold answers to score against")
        if question.id in references:
            raise question.error("question id repeated")
        references[question.id] = question.answers
    if not references:
        raise DataError(path, "no questions to score")
    return references


# --- one scorer per TaskSpec.scoring: (prediction file, gold file, language) -> metrics ------------


def accuracy(predictions: Path, gold: Path, lang: str) -> Scores:
    """XNLI, PAWS-X, Tatoeba: the share of lines equal to the gold line, x100."""
    predicted, expected = _lines(predictions), _lines(gold)
    _same_count(predictions, predicted, gold, expected, "lines")
    correct = sum(p == g for (_, p), (_, g) in zip(predicted, expected, strict=True))
    return {"accuracy": 100.0 * correct / len(expected)}


def seqeval(predictions: Path, gold: Path, lang: str) -> Scores:
    """UD-POS, PAN-X: seqeval's default-mode F1 (with precision, recall, token accuracy)."""
    from fairseq_stilts.metrics.tagging import tagging_scores

    predicted, expected = _sentences(predictions), _sentences(gold)
    _same_count(predictions, predicted, gold, expected, "sentences")
    for (line, tags), (gold_line, gold_tags) in zip(predicted, expected, strict=True):
        if len(tags) != len(gold_tags):
            raise DataError(
                predictions,
                f"{len(tags)} tags, but the sentence at {gold}:{gold_line} has {len(gold_tags)}",
                line,
            )
    return tagging_scores([tags for _, tags in expected], [tags for _, tags in predicted])


def bucc(predictions: Path, gold: Path, lang: str) -> Scores:
    """BUCC 2018: precision, recall and F1 of the predicted pairs against the gold pairs."""
    from fairseq_stilts.metrics.pairs import pair_set_scores

    expected = _pairs(gold)
    if not expected:
        raise DataError(gold, "no pairs to score")
    scores = pair_set_scores(_pairs(predictions), expected)
    return {
        "bucc_f1": scores["f1"],
        "bucc_precision": scores["precision"],
        "bucc_recall": scores["recall"],
    }


def squad_v1(predictions: Path, gold: Path, lang: str) -> Scores:
    """XQuAD, TyDiQA-GoldP: SQuAD v1.1 exact match and F1 in every language."""
    from fairseq_stilts.metrics.qa import squad_scores

    return squad_scores(_answers(predictions), _references(gold))


def mlqa(predictions: Path, gold: Path, lang: str) -> Scores:
    """MLQA: exact match and F1 with the MLQA script's rules for the file's language."""
    from fairseq_stilts.metrics.qa import mlqa_scores

    return mlqa_scores(_answers(predictions), _references(gold), lang)


SCORERS: dict[str, Callable[[Path, Path, str], Scores]] = {
    "accuracy": accuracy,
    "tatoeba": accuracy,
    "seqeval": seqeval,
    "bucc": bucc,
    "squad_v1": squad_v1,
    "mlqa": mlqa,
}
"""Each XTREME task's ``TaskSpec.scoring`` -> its scorer."""
