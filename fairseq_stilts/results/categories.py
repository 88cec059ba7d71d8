"""XTREME's benchmark-level rules (Hu et al., 2020), as its leaderboard script computes them.

The nine target tasks fall into four categories. A category's score is the mean of its tasks'
scores and exists only when all of them have one; the XTREME score is the unweighted mean of the
nine task scores and exists only when all nine have one. Tasks are named as this package names
them (their folders in XTREME's layouts are the specs' ``xtreme_name``: ``bucc2018`` for bucc).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

CATEGORIES: dict[str, tuple[str, ...]] = {
    "sentence classification": ("pawsx", "xnli"),
    "structured prediction": ("udpos", "panx"),
    "question answering": ("xquad", "mlqa", "tydiqa"),
    "sentence retrieval": ("bucc", "tatoeba"),
}
"""Category -> its tasks, in the leaderboard's order."""

XTREME_TASKS: tuple[str, ...] = tuple(task for tasks in CATEGORIES.values() for task in tasks)
"""The nine XTREME tasks, category by category."""


def category_scores(task_scores: Mapping[str, float]) -> dict[str, float]:
    """Category -> the mean score of its tasks, for each category whose tasks all have a score."""
    return {
        category: statistics.fmean(task_scores[task] for task in tasks)
        for category, tasks in CATEGORIES.items()
        if all(task in task_scores for task in tasks)
    }


def missing_tasks(task_scores: Mapping[str, float]) -> tuple[str, ...]:
    """The XTREME tasks without a score, in :data:`XTREME_TASKS` order."""
    return tuple(task for task in XTREME_TASKS if task not in task_scores)


def overall_score(task_scores: Mapping[str, float]) -> float | None:
    """The XTREME score, the mean of the nine task scores; None unless all nine are present."""
    if missing_tasks(task_scores):
        return None
    return statistics.fmean(task_scores[task] for task in XTREME_TASKS)
