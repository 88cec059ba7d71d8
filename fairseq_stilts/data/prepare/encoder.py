"""Text -> fairseq token ids with a pretrained XLM-R's own sentencepiece model and dict.txt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import sentencepiece as spm
from fairseq.data import Dictionary

from fairseq_stilts.errors import DataError
from fairseq_stilts.runtime import DICT_FILE, SPM_FILE, load_dictionary


class PieceEncoder:
    """Sentencepiece ids mapped through a lookup table onto fairseq's dictionary ids.

    Gives exactly what ``Dictionary.encode_line`` gives on the space-joined pieces (XLM-R's
    layout puts every piece at its sentencepiece id + 1), without building strings.
    """

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = model_dir = Path(model_dir)
        for name in (SPM_FILE, DICT_FILE):
            if not (model_dir / name).is_file():
                raise DataError(
                    model_dir / name,
                    "missing: a pretrained model folder holds model.pt, dict.txt and sentencepiece.bpe.model",
                )
        self.processor = load_sentencepiece(model_dir / SPM_FILE)
        self.dictionary = load_dictionary(model_dir / DICT_FILE)
        pieces = (self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size()))
        self.lookup = np.array([self.dictionary.index(p) for p in pieces], dtype=np.int64)
        self.lookup[self.processor.unk_id()] = self.dictionary.unk()

    def encode(self, text: str) -> np.ndarray:
        """Ids of one text, ending with ``</s>`` as fairseq-preprocess writes them."""
        ids = self.lookup[self.processor.encode(text)]
        return np.append(ids, self.dictionary.eos())


def load_sentencepiece(path: Path) -> spm.SentencePieceProcessor:
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as err:
        raise DataError(path, f"not a sentencepiece model ({err})") from None


def dictionary_fingerprint(dictionary: Dictionary) -> int:
    """A 63-bit hash of a dictionary's symbols, in order."""
    digest = hashlib.sha256("\n".join(dictionary.symbols).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1
