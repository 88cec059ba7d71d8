"""stilts-convert: local Hugging Face ``transformers`` XLM-R folders <-> our fairseq checkpoints.

stilts-convert from-hf HF_DIR OUT        -> OUT/model.pt, dict.txt, sentencepiece.bpe.model
stilts-convert to-hf CKPT OUT [--model-dir DIR] [--head NAME] [--data DATA] [--results FILE]
                                         -> a transformers folder with a model card (README.md)
"""

from __future__ import annotations

from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.convert.names import LM


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-convert", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    from_hf = commands.add_parser(
        "from-hf", help="transformers XLM-R folder -> fairseq model folder"
    )
    from_hf.add_argument(
        "model_dir", type=Path, help="config.json, model.safetensors, sentencepiece.bpe.model"
    )
    from_hf.add_argument("out", type=Path, help="folder to write (replaced whole)")
    to_hf = commands.add_parser("to-hf", help="fairseq checkpoint -> transformers folder")
    to_hf.add_argument("checkpoint", type=Path, help="fairseq checkpoint (any phase)")
    to_hf.add_argument("out", type=Path, help="folder to write (replaced whole)")
    to_hf.add_argument(
        "--model-dir",
        type=Path,
        help="the pretrained model folder (dict.txt, sentencepiece.bpe.model); default: the checkpoint's folder",
    )
    to_hf.add_argument(
        "--head",
        help=f"head to convert ({LM!r}: the LM head); default: the only task head, else {LM!r}",
    )
    to_hf.add_argument(
        "--data",
        type=Path,
        help="the data folder stilts-prepare made for the head's task: label names "
        "(label/dict.txt) for config.json, its task and manifest sha256 for the model card",
    )
    to_hf.add_argument(
        "--results",
        type=Path,
        help="a results JSON written by stilts-eval: its metrics go into the model card",
    )
    args = parser.parse_args(argv)
    from fairseq_stilts.convert.from_hf import convert_from_hf
    from fairseq_stilts.convert.to_hf import convert_to_hf

    if args.command == "from-hf":
        for note in convert_from_hf(args.model_dir, args.out):
            print(f"note: {note}")
    else:
        kind = convert_to_hf(
            args.checkpoint, args.out, args.model_dir, args.head, args.data, args.results
        )
        print(f"{args.out}: {kind}")
