"""stilts-convert: local Hugging Face ``transformers`` XLM-R folders <-> our fairseq checkpoints.

stilts-convert from-hf HF_DIR OUT        -> OUT/model.pt, dict.txt, sentencepiece.bpe.model
stilts-convert to-hf CKPT OUT [--model-dir DIR] [--head NAME]   -> a transformers folder
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_stilts.cli.main import cli
from fairseq_stilts.convert.from_hf import convert_from_hf
from fairseq_stilts.convert.to_hf import LM, convert_to_hf


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="stilts-convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    from_hf = commands.add_parser(
        "from-hf", help="transformers XLM-R folder -> fairseq model folder"
    )
    from_hf.add_argument(
        "model_dir", type=Path, help="config.json, model.safetensors, sentencepiece.bpe.model"
    )
    from_hf.add_argument("out", type=Path, help="folder to write (replaced whole)")
    to_hf = commands.add_parser("to-hf", help="fairseq checkpoint -> transformers folder")
    to_hf.add_argument("checkpoint", type=Path)
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
    args = parser.parse_args(argv)
    if args.command == "from-hf":
        for note in convert_from_hf(args.model_dir, args.out):
            print(f"note: {note}")
    else:
        kind = convert_to_hf(args.checkpoint, args.out, args.model_dir, args.head)
        print(f"{args.out}: {kind}")
