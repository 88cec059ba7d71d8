"""stilts-eval: zero-shot evaluation of a checkpoint on every language of a task.

Runs the stock ``fairseq-validate`` once over the subsets ``<split>.<lang>`` (English first) and
writes one results JSON: a row per language and metric with task, language, split, metric,
value, checkpoint and the data manifest's hash. UDPOS reports two metrics: ``seqeval_f1``
(XTREME's number) and ``token_accuracy`` (real POS accuracy). The predictions (fairseq-validate's
``--predictions-dir``) are written in XTREME's submission layout, one file per language:
``test-<lang>.tsv`` (``dev-<lang>`` for --split valid) with a label (classification), a choice
index (multiple choice) or, a blank line between sentences, a tag per line (tagging), in the
examples' order; ``test-<lang>.json`` mapping question id to answer text (span QA). A language
whose test file came without gold labels (as XTREME's download ships them) gets its submission
file and no row. Each scored example's counts (what its metrics are summed from) go beside the
results JSON as ``<results>.examples.npz``, for the report's bootstrap over examples.
"""

from __future__ import annotations

import glob
import json
import tempfile
from pathlib import Path

from fairseq_stilts.cli.main import LanguageList, argument_parser, cli
from fairseq_stilts.data.prepare.manifest import MANIFEST, read_manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.progress import progress as progress_bar
from fairseq_stilts.registry import Family, get_family, get_spec
from fairseq_stilts.results.example_counts import columns, counts_path, write_counts
from fairseq_stilts.runtime import file_sha256, run_fairseq
from fairseq_stilts.writes import write_atomic, write_folder


def evaluate(
    task: str,
    data: Path,
    checkpoint: Path,
    split: str = "test",
    languages: list[str] | None = None,
    batch_size: int = 32,
    cpu: bool = False,
    predictions: Path | None = None,
    extra: list[str] | None = None,
    log: Path | None = None,
    progress: bool = False,
    counts: Path | None = None,
) -> list[dict]:
    """Per-language metric rows for ``checkpoint`` on the prepared ``data`` folder; with
    ``predictions``, also that folder of XTREME submission files, and with ``counts`` that file
    of each scored example's counts (:mod:`~fairseq_stilts.results.example_counts`). ``extra``
    options go to fairseq-validate as they are; its output is kept in ``log`` (default: beside
    the checkpoint) and, with ``progress``, shown as it comes."""
    spec = get_spec(task)
    spec.require_trainable()
    family = get_family(spec.family)
    manifest = read_manifest(data, task)
    if not Path(checkpoint).is_file():
        raise StiltsError(f"{checkpoint}: checkpoint not found")
    found = manifest.languages_of(split)
    languages = languages or found
    missing = [lang for lang in languages if lang not in found]
    if missing:
        raise StiltsError(f"{data}: no {split} data for {missing}; it has {found}")
    languages = sorted(languages, key=lambda lang: (lang != "en", lang))
    subsets = [f"{split}.{lang}" for lang in languages]
    args = [
        str(data),
        "--task",
        task,
        "--path",
        str(checkpoint),
        "--valid-subset",
        ",".join(subsets),
        "--batch-size",
        str(batch_size),
        "--log-format",
        "json",
        "--num-workers",
        "0",
    ]
    args += ["--cpu"] if cpu else []
    args += extra or []
    log = log or Path(checkpoint).with_suffix(f".{task}.{split}.log")
    with tempfile.TemporaryDirectory(prefix="stilts-predictions.") as raw:
        run_fairseq("fairseq-validate", [*args, "--predictions-dir", raw], log, echo=progress)
        stats = {subset: read_metrics(Path(raw), subset) for subset in subsets}
        pairs = progress_bar(
            list(zip(languages, subsets, strict=True)),
            desc="reading predictions",
            unit="languages",
            quiet=not progress,
        )
        records = {
            lang: read_records(Path(raw), subset, manifest.subsets[subset].count)
            for lang, subset in pairs
        }
    if predictions is not None:
        files = {
            submission_name(family, split, lang): family.submission_text(
                [record["prediction"] for record in records[lang]]
            )
            for lang in languages
        }
        write_folder(Path(predictions), files)
    if counts is not None:
        scored = [lang for lang in languages if manifest.subsets[f"{split}.{lang}"].labelled]
        found = {lang: columns([r.get("counts", {}) for r in records[lang]]) for lang in scored}
        write_counts(counts, found)
    rows = []
    for lang, subset in zip(languages, subsets, strict=True):
        if not manifest.subsets[subset].labelled:
            continue  # predicted (the submission file), nothing to score against
        for metric in spec.reported_metrics:
            if metric not in stats[subset]:
                raise StiltsError(f"fairseq-validate reported no {metric} for subset {subset!r}")
            rows.append(
                {
                    "task": task,
                    "language": lang,
                    "split": split,
                    "metric": metric,
                    "value": float(stats[subset][metric]),
                    "checkpoint": str(Path(checkpoint).resolve()),
                    "data_manifest_sha256": file_sha256(Path(data) / MANIFEST),
                }
            )
    return rows


def read_metrics(folder: Path, subset: str) -> dict[str, float]:
    """The metrics of ``subset`` that the task wrote beside its predictions."""
    path = folder / f"{subset}.metrics.json"
    if not path.is_file():
        raise StiltsError(
            f"fairseq-validate wrote no metrics for subset {subset!r} (was the checkpoint saved "
            "before --predictions-dir existed?)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def read_records(folder: Path, subset: str, count: int) -> list[dict]:
    """The records (prediction and counts) of ``subset``'s ``count`` examples in order, merged
    from the rank files ``<subset>.<rank>.jsonl`` that ``--predictions-dir`` wrote."""
    by_id: dict[int, dict] = {}
    for path in sorted(folder.glob(f"{glob.escape(subset)}.*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["id"] in by_id:
                raise StiltsError(
                    f"{path}: example {record['id']} of subset {subset!r} was predicted twice"
                )
            by_id[record["id"]] = record
    if sorted(by_id) != list(range(count)):
        missing = sorted(set(range(count)) - set(by_id))
        raise StiltsError(
            f"fairseq-validate predicted {len(by_id)} examples of subset {subset!r}, which has "
            f"{count}; missing ids: {missing[:10]}"
            + ("" if by_id else " (was the checkpoint saved before --predictions-dir existed?)")
        )
    return [by_id[i] for i in range(count)]


def submission_name(family: Family, split: str, lang: str) -> str:
    """XTREME's file name: ``test-<lang>`` (``dev-`` for valid) with the family's suffix."""
    return f"{'test' if split == 'test' else 'dev'}-{lang}{family.submission_suffix}"


def format_table(rows: list[dict]) -> str:
    """One line per language, one column per metric, then the mean over languages."""
    metrics = list(dict.fromkeys(row["metric"] for row in rows)) or ["value"]
    widths = [max(10, len(m) + 2) for m in metrics]
    values: dict[str, dict[str, float]] = {}
    for row in rows:
        values.setdefault(row["language"], {})[row["metric"]] = row["value"]
    lines = [
        f"{'language':<10}" + "".join(f"{m:>{w}}" for m, w in zip(metrics, widths, strict=True))
    ]
    for lang, by_metric in values.items():
        cells = (
            f"{by_metric.get(m, float('nan')):>{w}.2f}"
            for m, w in zip(metrics, widths, strict=True)
        )
        lines.append(f"{lang:<10}" + "".join(cells))
    if rows:
        means = (
            sum(v[m] for v in values.values() if m in v) / sum(m in v for v in values.values())
            for m in metrics
        )
        lines.append(
            f"{'mean':<10}" + "".join(f"{x:>{w}.2f}" for x, w in zip(means, widths, strict=True))
        )
    return "\n".join(lines)


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-eval", __doc__)
    parser.epilog = "Other options (--fp16, --max-tokens, ...) go to fairseq-validate as they are."
    parser.add_argument("task", help="task name (see stilts-tasks)")
    parser.add_argument("data", type=Path, help="data folder made by stilts-prepare")
    parser.add_argument("--path", type=Path, required=True, help="checkpoint to evaluate")
    parser.add_argument(
        "--split",
        choices=("valid", "test"),
        default="test",
        help="evaluate the dev (valid.<lang>) or test (test.<lang>) subsets",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        action=LanguageList,
        help="languages to evaluate, en,de or en de (default: every language in the data)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="examples per batch")
    parser.add_argument("--cpu", action="store_true", help="evaluate on the CPU")
    parser.add_argument(
        "--out",
        type=Path,
        help="results JSON (default: beside the checkpoint, CHECKPOINT.<task>.<split>.json); "
        "fairseq-validate's log goes beside it (.log)",
    )
    parser.add_argument(
        "--predictions-out",
        type=Path,
        help="folder of XTREME submission files (default: the results JSON's path, .predictions)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not show fairseq-validate's log")
    args, extra = parser.parse_known_args(argv)
    out = args.out or args.path.with_suffix(f".{args.task}.{args.split}.json")
    predictions = args.predictions_out or out.with_suffix(".predictions")
    rows = evaluate(
        args.task,
        args.data,
        args.path,
        args.split,
        args.languages,
        args.batch_size,
        args.cpu,
        predictions,
        extra=extra,
        log=out.with_suffix(".log"),
        progress=not args.quiet,
        counts=counts_path(out),
    )
    write_atomic(out, json.dumps(rows, indent=2) + "\n")
    if rows:
        print(format_table(rows))
    manifest = read_manifest(args.data, args.task)
    unlabelled = [
        lang
        for lang in args.languages or manifest.languages_of(args.split)
        if not manifest.subsets[f"{args.split}.{lang}"].labelled
    ]
    if unlabelled:
        print(
            f"no gold labels for {', '.join(unlabelled)} (prepared from test files without "
            "them): predicted for the submission files, not scored"
        )
    print(f"results: {out}")
    print(f"predictions: {predictions}")
