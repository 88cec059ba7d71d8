"""stilts-prepare: raw task files -> a fairseq data folder (binarized subsets + manifest).

``stilts-prepare xtreme DOWNLOAD --model M --out DATA`` prepares all nine XTREME targets from the
folder XTREME's download script fills, into DATA/<task>, and prints what it found.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fairseq_stilts.cli.main import LanguageList, argument_parser, cli
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.request import QAOptions
from fairseq_stilts.data.prepare.train_languages import choose_train_languages
from fairseq_stilts.errors import StiltsError


def _lang_path(value: str) -> tuple[str, Path]:
    lang, sep, path = value.partition("=")
    if not sep or not lang or not path:
        raise argparse.ArgumentTypeError(f"expected LANG=PATH, got {value!r}")
    return lang, Path(path)


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-prepare", __doc__)
    parser.add_argument("task", help="task name (see stilts-tasks), or xtreme: all nine targets")
    parser.add_argument(
        "raw",
        nargs="?",
        type=Path,
        help="folder with the task's raw files (xtreme: the folder XTREME's download fills)",
    )
    parser.add_argument(
        "--hf",
        type=_lang_path,
        action="append",
        metavar="LANG=PATH",
        help="a local Hugging Face dataset (save_to_disk folder or parquet files) "
        "for one language, instead of RAW; repeat per language",
    )
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="pretrained model folder with dict.txt and sentencepiece.bpe.model",
    )
    parser.add_argument("--out", type=Path, required=True, help="data folder to create")
    parser.add_argument(
        "--languages",
        nargs="+",
        action=LanguageList,
        help="only these dev/test languages, de,fr or de fr (default: all found); mlm: only "
        "these <lang>.txt files",
    )
    parser.add_argument(
        "--train-languages",
        nargs="+",
        action=LanguageList,
        metavar="LANG",
        default=["en"],
        help="training languages, en,de (as fairseq-train's --train-languages) or en de: "
        "English from the task's own files, others from --train-file or the task's "
        "translated layout",
    )
    parser.add_argument(
        "--train-file",
        type=_lang_path,
        action="append",
        default=[],
        metavar="LANG=PATH",
        help="a training file of your own for one language, "
        "in the task's training format (wins over the translated layout); repeat "
        "per language",
    )
    parser.add_argument(
        "--dev-file",
        type=_lang_path,
        action="append",
        default=[],
        metavar="LANG=PATH",
        help="a dev file of your own for one language, in the "
        "task's dev format (subset valid.<lang>; with several dev languages the "
        "data also gets valid.all, to select on all of them); repeat per language",
    )
    parser.add_argument(
        "--no-english-train",
        action="store_true",
        help="leave English out of the training data (English dev stays)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="threads that encode with sentencepiece",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--force", action="store_true", help="replace an existing --out folder")
    parser.add_argument(
        "--max-seq-length",
        type=int,
        default=0,
        help="tagging: split longer sentences into pieces of at most this many "
        "tokens (default: the task's, 256); span QA: window length (default 384)",
    )
    parser.add_argument(
        "--doc-stride",
        type=int,
        default=QAOptions.doc_stride,
        help="span QA: context tokens between the starts of two windows",
    )
    parser.add_argument(
        "--max-query-length",
        type=int,
        default=QAOptions.max_query_length,
        help="span QA: questions are cut to this many tokens",
    )
    parser.add_argument(
        "--skip-mismatched-answers",
        action="store_true",
        help="span QA: drop (and count) training questions whose answer text is "
        "not at its answer_start, instead of stopping",
    )
    args = parser.parse_args(argv)
    qa = QAOptions(args.doc_stride, args.max_query_length, args.skip_mismatched_answers)
    if args.task == "xtreme":
        _prepare_xtreme(args, qa)
        return
    if args.hf and len(dict(args.hf)) != len(args.hf):
        raise StiltsError("--hf: a language is given twice")
    train = choose_train_languages(
        args.train_languages, args.no_english_train, args.train_file, args.dev_file
    )
    manifest = prepare_task(
        args.task,
        args.out,
        args.model,
        raw=args.raw,
        hf=dict(args.hf or []),
        languages=args.languages,
        workers=args.workers,
        force=args.force,
        max_seq_length=args.max_seq_length,
        qa=qa,
        train=train,
        quiet=args.quiet,
    )
    counts = ", ".join(
        f"{name} {s.count}" + ("" if s.labelled else " (no gold labels)")
        for name, s in manifest.subsets.items()
    )
    print(f"{args.out}: {counts}")


def _prepare_xtreme(args: argparse.Namespace, qa: QAOptions) -> None:
    from fairseq_stilts.xtreme.prepare import format_summary, prepare_xtreme

    per_task = {
        "--hf": args.hf,
        "--train-file": args.train_file,
        "--dev-file": args.dev_file,
        "--no-english-train": args.no_english_train,
        "--train-languages": args.train_languages != ["en"],
    }
    refused = [option for option, given in per_task.items() if given]
    if refused:
        raise StiltsError(
            f"stilts-prepare xtreme: {', '.join(refused)} choose one task's data; xtreme prepares "
            "XTREME's zero-shot setting (English training data): run stilts-prepare TASK for "
            "translate-train"
        )
    if args.raw is None:
        raise StiltsError("stilts-prepare xtreme: give the XTREME download folder")
    summaries = prepare_xtreme(
        args.raw,
        args.out,
        args.model,
        languages=args.languages,
        workers=args.workers,
        force=args.force,
        max_seq_length=args.max_seq_length,
        qa=qa,
        quiet=args.quiet,
    )
    print(format_summary(summaries))
    print(f"{args.out}: prepared {sum(not s.absent for s in summaries)} of 9 XTREME targets")
