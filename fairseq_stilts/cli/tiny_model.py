"""Build the tiny pretrained XLM-R-shaped model from the tiny world's text (phase 1).

Writes the official XLM-R layout: ``model.pt``, ``dict.txt``, ``sentencepiece.bpe.model``.
The sentencepiece model is a unigram model (as XLM-R's), and ``model.pt`` comes from a short
real masked-LM pretraining with fairseq's own ``masked_lm`` task.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

import sentencepiece as spm

from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.runtime import DICT_FILE, SPM_FILE, run_fairseq
from fairseq_stilts.tiny import DATA_DIR

VOCAB_SIZE = 400


def build_tiny_model(out: Path, updates: int = 400, seed: int = 1, progress: bool = False) -> Path:
    """Train sentencepiece + a 2-layer XLM-R on ``tiny/data/mlm/*.txt``; return ``out``. With
    ``progress``, fairseq-train's log lines (every 20 updates) are shown as they come."""
    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.data.prepare.indexed import write_indexed

    out = Path(out)
    texts = sorted((DATA_DIR / "mlm").glob("*.txt"))
    work = Path(tempfile.mkdtemp(prefix="stilts-tiny-"))
    try:
        spm.set_random_generator_seed(seed)
        spm.SentencePieceTrainer.train(
            input=",".join(map(str, texts)),
            model_prefix=str(work / "spm"),
            vocab_size=VOCAB_SIZE,
            model_type="unigram",
            character_coverage=1.0,
            num_threads=1,
            hard_vocab_limit=False,
            minloglevel=2,
        )
        model_dir = work / "model"
        model_dir.mkdir()
        shutil.copyfile(work / "spm.model", model_dir / SPM_FILE)
        _write_dictionary(work / "spm.model", texts, model_dir / DICT_FILE)

        encoder = PieceEncoder(model_dir)
        lines = [line for path in texts for line in path.read_text(encoding="utf-8").splitlines()]
        encoded = [encoder.encode(line) for line in lines]
        data = work / "mlm-bin"
        write_indexed(data / "train", encoded, len(encoder.dictionary))
        write_indexed(data / "valid", encoded[::20], len(encoder.dictionary))
        shutil.copyfile(model_dir / DICT_FILE, data / DICT_FILE)

        save = work / "checkpoints"
        run_fairseq(
            "fairseq-train",
            [
                str(data),
                "--task",
                "masked_lm",
                "--criterion",
                "masked_lm",
                "--arch",
                "xlmr_tiny",
                "--sample-break-mode",
                "complete",
                "--tokens-per-sample",
                "128",
                "--optimizer",
                "adam",
                "--adam-betas",
                "(0.9,0.98)",
                "--lr",
                "1e-3",
                "--lr-scheduler",
                "polynomial_decay",
                "--warmup-updates",
                str(updates // 10),
                "--total-num-update",
                str(updates),
                "--max-update",
                str(updates),
                "--batch-size",
                "32",
                "--dropout",
                "0.1",
                "--seed",
                str(seed),
                "--cpu",
                "--save-dir",
                str(save),
                "--no-epoch-checkpoints",
                "--no-save-optimizer-state",
                "--disable-validation",
                "--save-interval",
                str(updates),
                "--log-format",
                "simple",
                "--log-interval",
                "20",
                "--num-workers",
                "0",
            ],
            work / "pretrain.log",
            echo=progress,
        )
        shutil.copyfile(save / "checkpoint_last.pt", model_dir / "model.pt")
        shutil.copyfile(work / "pretrain.log", model_dir / "pretrain.log")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(model_dir), str(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _write_dictionary(spm_model: Path, texts: list[Path], path: Path) -> None:
    """fairseq dict.txt in XLM-R's layout: every piece in sentencepiece order, with its count."""
    processor = spm.SentencePieceProcessor(model_file=str(spm_model))
    counts = Counter(
        i
        for text in texts
        for line in text.read_text(encoding="utf-8").splitlines()
        for i in processor.encode(line)
    )
    first = 3  # sentencepiece's <unk> <s> </s> are fairseq's own specials
    rows = [
        f"{processor.id_to_piece(i)} {counts[i]}" for i in range(first, processor.get_piece_size())
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-tiny-model", __doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the model into")
    parser.add_argument("--updates", type=int, default=400, help="masked-LM pretraining updates")
    parser.add_argument("--seed", type=int, default=1, help="seed of sentencepiece and fairseq")
    parser.add_argument("--quiet", action="store_true", help="do not show fairseq-train's log")
    args = parser.parse_args(argv)
    print(build_tiny_model(args.out, args.updates, args.seed, progress=not args.quiet))
