"""stilts-retrieve: score a checkpoint's encoder on BUCC 2018 or Tatoeba (no training).

Embeds every sentence with one layer of the encoder (default: layer 14 of 24, scaled to the
model's depth) and a pooling (default: mean over all non-pad tokens), L2-normalised, then scores
each language: Tatoeba accuracy (each English line queries the other language's lines, as XTREME
does); BUCC margin mining with the threshold tuned on dev gold and applied to test (F1,
precision, recall). Each language's XTREME submission file is written too: a language whose test
gold XTREME's download hides (Tatoeba's English side sorted, BUCC's test gold deleted) gets its
file and no score. All input is read and checked before any embedding; the results JSON, the
submission folder and the per-example counts (``<results>.examples.npz``: Tatoeba's hits per
query, BUCC's pairs per source sentence) are written at the end, atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fairseq_stilts.cli.main import LanguageList, argument_parser, cli
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.retrieval.retrievers import RETRIEVERS, get_retriever, read_test_sets
from fairseq_stilts.registry import get_spec
from fairseq_stilts.results.example_counts import columns, counts_path, write_counts
from fairseq_stilts.writes import write_atomic, write_folder


@dataclass
class Retrieval:
    """What stilts-retrieve found: result rows of the scored languages, and per language the
    text of its XTREME submission file (``test-<lang>.tsv``: per English line, Tatoeba's predicted
    line of the other language, BUCC's test pairs mined at the dev-tuned threshold)."""

    rows: list[dict] = field(default_factory=list)
    predictions: dict[str, str] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)  # predicted, no gold to score against
    counts: dict[str, dict[str, list]] = field(default_factory=dict)  # language -> sum -> counts


def retrieve(
    task: str,
    raw: Path,
    checkpoint: Path,
    model_dir: Path,
    languages: list[str] | None = None,
    layer: int | None = None,
    pooling: str = "mean",
    batch_size: int = 32,
    cpu: bool = False,
) -> Retrieval:
    """Scores and submission files of ``checkpoint`` on the raw retrieval files in ``raw``."""
    import torch  # here, not at the top: stilts-retrieve --help stays light

    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.families.retrieval.embed import POOLINGS, default_layer, embed_sentences
    from fairseq_stilts.progress import progress
    from fairseq_stilts.runtime import load_encoder

    retriever = get_retriever(task)
    spec = get_spec(task)
    if pooling not in POOLINGS:
        raise StiltsError(f"--pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    data = read_test_sets(spec, raw, languages)
    encoder = PieceEncoder(model_dir)
    model = load_encoder(checkpoint, model_dir)
    device = "cuda" if torch.cuda.is_available() and not cpu else "cpu"
    model.to(device)
    layer = default_layer(model) if layer is None else layer

    def embed(sentences):
        return embed_sentences(
            model,
            encoder,
            sentences,
            layer=layer,
            pooling=pooling,
            batch_size=batch_size,
            max_length=spec.max_length,
            device=device,
        )

    common = {"checkpoint": str(Path(checkpoint).resolve()), "layer": layer, "pooling": pooling}
    result = Retrieval()
    for lang in progress(list(data), desc=f"{task}: embedding and scoring", unit="languages"):
        predicted = retriever.predict(data[lang], embed, device)
        result.predictions[lang] = predicted.submission
        if predicted.scores is None:
            result.unlabelled.append(lang)
            continue
        result.counts[lang] = columns(predicted.counts)
        for metric, value in predicted.scores.items():
            result.rows.append(_row(task, lang, "test", metric, value, common | predicted.details))
    return result


def _row(task: str, lang: str, split: str, metric: str, value: float, extra: dict) -> dict:
    return {
        "task": task,
        "language": lang,
        "split": split,
        "metric": metric,
        "value": float(value),
        **extra,
    }


def format_table(rows: list[dict]) -> str:
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    languages = list(dict.fromkeys(row["language"] for row in rows))
    values = {(row["language"], row["metric"]): row["value"] for row in rows}
    lines = [f"{'language':<10}" + "".join(f"{m:>16}" for m in metrics)]
    for lang in languages:
        lines.append(f"{lang:<10}" + "".join(f"{values[lang, m]:>16.2f}" for m in metrics))
    if languages:
        means = [sum(values[lang, m] for lang in languages) / len(languages) for m in metrics]
        lines.append(f"{'mean':<10}" + "".join(f"{v:>16.2f}" for v in means))
    return "\n".join(lines)


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-retrieve", __doc__)
    parser.add_argument("task", choices=list(RETRIEVERS), help="retrieval task")
    parser.add_argument("raw", type=Path, help="folder with the task's raw files (XTREME layout)")
    parser.add_argument("--path", type=Path, required=True, help="checkpoint (phase 1, 2 or 3)")
    parser.add_argument(
        "--model-dir",
        type=Path,
        required=True,
        help="pretrained model folder (dict.txt, sentencepiece.bpe.model)",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        action=LanguageList,
        help="languages to score, de,fr or de fr (default: every language found in RAW)",
    )
    parser.add_argument(
        "--layer", type=int, help="hidden state to pool, 0 = embeddings (default: 14/24 of depth)"
    )
    parser.add_argument(
        "--pooling", default="mean", help="mean: over the tokens; cls: the <s> vector"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--cpu", action="store_true", help="do not use a GPU even if there is one")
    parser.add_argument("--out", type=Path, help="results JSON (default: next to the checkpoint)")
    parser.add_argument(
        "--predictions",
        type=Path,
        help="folder of XTREME submission files test-<lang>.tsv (default: the results JSON's "
        "path, .predictions)",
    )
    args = parser.parse_args(argv)
    result = retrieve(
        args.task,
        args.raw,
        args.path,
        args.model_dir,
        args.languages,
        args.layer,
        args.pooling,
        args.batch_size,
        args.cpu,
    )
    out = args.out or args.path.with_suffix(f".{args.task}.json")
    predictions = args.predictions or out.with_suffix(".predictions")
    write_folder(
        predictions, {f"test-{lang}.tsv": text for lang, text in result.predictions.items()}
    )
    write_counts(counts_path(out), result.counts)
    write_atomic(out, json.dumps(result.rows, indent=2) + "\n")
    if result.rows:
        print(format_table(result.rows))
    if result.unlabelled:
        print(
            f"no gold for {', '.join(result.unlabelled)} ({get_retriever(args.task).no_gold}): "
            "predicted for the submission files, not scored"
        )
    print(f"results: {out}")
    print(f"predictions: {predictions}")
