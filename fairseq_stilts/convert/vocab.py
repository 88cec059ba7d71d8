"""fairseq's XLM-R ``dict.txt`` from a sentencepiece model, and the check that the two agree.

fairseq ids: ``<s> <pad> </s> <unk>`` = 0..3, then sentencepiece id ``k >= 3`` at ``k + 1``,
``<mask>`` last: exactly the ids of transformers' ``XLMRobertaTokenizer``.
"""

from __future__ import annotations

from pathlib import Path

import sentencepiece as spm
from fairseq.data import Dictionary

from fairseq_stilts.errors import DataError

SPM_SPECIALS = ("<unk>", "<s>", "</s>")  # sentencepiece ids 0..2, fairseq's own specials


def spm_pieces(spm_model: Path) -> list[str]:
    """The pieces of a sentencepiece model from id 3 on; ids 0..2 must be XLM-R's specials."""
    processor = spm.SentencePieceProcessor(model_file=str(spm_model))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    if tuple(pieces[:3]) != SPM_SPECIALS:
        raise DataError(
            spm_model, f"ids 0..2 are {pieces[:3]}, XLM-R's layout needs {list(SPM_SPECIALS)}"
        )
    return pieces[3:]


def dictionary_text(spm_model: Path) -> str:
    """``dict.txt`` for ``spm_model``: every piece after the specials, in id order (count 1)."""
    return "".join(f"{piece} 1\n" for piece in spm_pieces(spm_model))


def check_dictionary(dictionary: Dictionary, dict_path: Path, spm_model: Path) -> None:
    """Refuse a ``dict.txt`` whose ids differ from the tokenizer's made from ``spm_model``."""
    pieces = spm_pieces(spm_model)
    ours = dictionary.symbols[dictionary.nspecial :]
    if ours == pieces:
        return
    if len(ours) != len(pieces):
        detail = f"{len(ours)} pieces, {spm_model} has {len(pieces)}"
    else:
        i = next(i for i, (a, b) in enumerate(zip(ours, pieces, strict=False)) if a != b)
        detail = f"id {i + dictionary.nspecial} is {ours[i]!r}, {spm_model} has {pieces[i]!r} there"
    raise DataError(
        dict_path,
        f"does not match the sentencepiece model ({detail}): the Hugging Face tokenizer would "
        "give other ids; pass the model folder the checkpoint was trained with (--model-dir)",
    )
