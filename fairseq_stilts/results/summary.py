"""The report's opening paragraph: its answer in words, generated from the numbers.

Says how multilingual intermediate training compares with English-only (when both are named) on
the average, by category and by language, and how the settings compare with the baseline: which
differences have a 95% interval that excludes zero, by how much and with what interval.
"""

from __future__ import annotations

from fairseq_stilts.results.report import AVERAGE, Report, average_label, no_deltas
from fairseq_stilts.results.resampling import Estimate


def _delta(e: Estimate) -> str:
    return f"{e.value:+.2f} (95% CI {e.low:+.2f} to {e.high:+.2f})"


def _verdict(e: Estimate) -> str:
    if not e.excludes_zero:
        return "its interval includes zero"
    return f"its interval is {'above' if e.value > 0 else 'below'} zero"


def _languages(found: dict[str, Estimate]) -> str:
    up = sorted((e.value, name) for name, e in found.items() if e.excludes_zero and e.value > 0)
    down = sorted((e.value, name) for name, e in found.items() if e.excludes_zero and e.value < 0)
    largest = [f"{name} {v:+.1f}" for v, name in up[::-1][:3]]
    largest += [f"{name} {v:+.1f}" for v, name in down[:3]]
    text = _count(found, "(task, language) differences")
    return text + (f" (largest: {', '.join(largest)})" if largest else "")


def _count(found: dict[str, Estimate], what: str) -> str:
    up = sum(e.excludes_zero and e.value > 0 for e in found.values())
    down = sum(e.excludes_zero and e.value < 0 for e in found.values())
    return f"{up} of {len(found)} {what} have an interval above zero and {down} below"


def _comparison(report: Report) -> list[str]:
    c = {comparison.target: comparison for comparison in report.comparisons}
    if not c:
        return []
    opening = (
        f"Multilingual intermediate training ({report.multilingual}) against English-only "
        f"({report.english}): "
    )
    by_category = report.category_comparisons
    if AVERAGE in by_category:
        multi = report.summaries[report.multilingual, AVERAGE].mean
        english = report.summaries[report.english, AVERAGE].mean
        opening += (
            f"the {average_label(report)} is {multi:.2f} against {english:.2f}, "
            f"{_delta(by_category[AVERAGE])}, {_verdict(by_category[AVERAGE])}"
        )
    else:
        opening += "; ".join(f"{t} {_delta(c[t].difference)}" for t in c)
    parts = [opening + "."]
    categories = [f"{k} {_delta(e)}" for k, e in by_category.items() if k != AVERAGE]
    if categories:
        parts.append("By category: " + "; ".join(categories) + ".")
    tasks = {t: comparison.difference for t, comparison in c.items()}
    languages = {f"{t}/{lang}": e for t in c for lang, e in c[t].languages.items()}
    parts.append(f"{_count(tasks, 'tasks')}. Per language, {_languages(languages)}.")
    return parts


def _against_baseline(report: Report) -> list[str]:
    key = AVERAGE if report.average_tasks else None
    if key is None:
        return []
    deltas = {s: report.deltas[s, key] for s in report.settings if (s, key) in report.deltas}
    if not deltas:
        return [f"No deltas: {no_deltas(report)}."]
    best = max(deltas, key=lambda s: deltas[s].value)
    worst = min(deltas, key=lambda s: deltas[s].value)
    differing = [s for s, e in deltas.items() if e.excludes_zero]
    text = (
        f"Against the baseline {report.baseline!r}, the {average_label(report)} is highest "
        f"under {best}, {_delta(deltas[best])}: {_verdict(deltas[best])}"
    )
    if worst != best:
        text += f"; lowest under {worst}, {_delta(deltas[worst])}: {_verdict(deltas[worst])}"
    text += f". {len(differing)} of {len(deltas)} setting(s) have an interval that excludes zero"
    categories = [
        f"{c} {_delta(report.deltas[best, c])}"
        for c in report.categories
        if (best, c) in report.deltas
    ]
    if categories:
        text += f"; by category, {best}: " + "; ".join(categories)
    return [text + "."]


def opening_paragraph(report: Report) -> str:
    """The paragraph that opens report.md (empty when there is nothing to compare)."""
    parts = _comparison(report) + _against_baseline(report)
    if parts and report.fixed_languages:
        parts.append(
            "Some runs have no per-example counts: their intervals reflect the seeds only "
            "(see how the intervals are computed)."
        )
    return " ".join(parts)
