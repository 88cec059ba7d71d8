"""stilts-retrieve: score a checkpoint's encoder on BUCC 2018 or Tatoeba (no training).

Embeds every sentence with one layer of the encoder (default: layer 14 of 24, scaled to the
model's depth) and a pooling (default: mean over all non-pad tokens), L2-normalised, then scores
each language: Tatoeba accuracy (English queries, nearest neighbour); BUCC margin mining with the
threshold tuned on dev gold and applied to test (F1, precision, recall). All input is read and
checked before any embedding, and the results JSON is written at the end, atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from fairseq_stilts.cli.main import LanguageList, argument_parser, cli
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_spec
from fairseq_stilts.writes import write_atomic

TASKS = ("tatoeba", "bucc")
BUCC_METRICS = (("bucc_f1", "f1"), ("bucc_precision", "precision"), ("bucc_recall", "recall"))


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
) -> list[dict]:
    """Per-language result rows of ``checkpoint`` on the raw retrieval files in ``raw``."""
    import torch  # here, not at the top: stilts-retrieve --help stays light

    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.families.retrieval.data import check_languages, read_bucc, read_tatoeba
    from fairseq_stilts.families.retrieval.embed import POOLINGS, default_layer, embed_sentences
    from fairseq_stilts.metrics.retrieval import bucc_scores, mine_pairs, tatoeba_accuracy
    from fairseq_stilts.progress import progress
    from fairseq_stilts.runtime import load_encoder

    if task not in TASKS:
        raise StiltsError(f"unknown retrieval task {task!r}; choose one of {', '.join(TASKS)}")
    spec = get_spec(task)
    if pooling not in POOLINGS:
        raise StiltsError(f"--pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    languages = check_languages(spec, raw, languages)
    if task == "tatoeba":
        data = {lang: read_tatoeba(spec, raw, lang) for lang in languages}
    else:
        data = {
            lang: {s: read_bucc(spec, raw, lang, s) for s in ("dev", "test")} for lang in languages
        }
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
    rows = []
    for lang in progress(languages, desc=f"{task}: embedding and scoring", unit="languages"):
        if task == "tatoeba":
            pair = data[lang]
            value = tatoeba_accuracy(embed(pair.english), embed(pair.other), device=device)
            rows.append(_row(task, lang, "test", spec.metrics[0], value, common))
            continue
        mined = {}
        for split, part in data[lang].items():
            src = embed(list(part.source.values()))
            trg = embed(list(part.target.values()))
            mined[split] = mine_pairs(part.source, src, part.target, trg, device=device)
        dev, test = data[lang]["dev"], data[lang]["test"]
        scores = bucc_scores(mined["dev"], dev.gold, mined["test"], test.gold)
        extra = {"threshold": scores["threshold"], "dev_f1": scores["dev_f1"]}
        for metric, key in BUCC_METRICS:
            rows.append(_row(task, lang, "test", metric, scores[key], common | extra))
    return rows


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
    parser.add_argument("task", choices=TASKS, help="retrieval task")
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
    args = parser.parse_args(argv)
    rows = retrieve(
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
    write_atomic(out, json.dumps(rows, indent=2) + "\n")
    print(format_table(rows))
    print(f"results: {out}")
