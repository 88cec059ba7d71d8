"""The lowest layer every command shares: the version, the pretrained model folder's files, the
stock fairseq executables (fairseq-train, fairseq-validate, ...) run with the plugin, and loading
a checkpoint's encoder without a data folder."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fairseq_stilts.errors import DataError, StiltsError

if TYPE_CHECKING:  # fairseq is imported where it is used: this module stays light
    from fairseq.data import Dictionary
    from fairseq.models.roberta import RobertaModel

__version__ = "0.1.0"
USER_DIR = str(Path(__file__).parent)  # the package folder: fairseq's --user-dir
DICT_FILE = "dict.txt"  # a pretrained model folder's dictionary ...
SPM_FILE = "sentencepiece.bpe.model"  # ... and sentencepiece model, as XLM-R's release has them


FAIRSEQ = "ve-fairseq==0.12.3"  # upstream fairseq's main branch, importable on Python 3.11


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def require_fairseq() -> None:
    """Stop with one line saying what to run when fairseq is not installed (a plain
    ``pip install fairseq-stilts`` cannot bring it: see docs/installation.md)."""
    try:
        import fairseq  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name != "fairseq":
            raise
        raise SystemExit(
            f"error: fairseq is not installed; run `pip install --no-deps {FAIRSEQ}` (fairseq's "
            "own requirements ask for a torchaudio that breaks transformers: fairseq-stilts "
            "already requires what fairseq needs at run time)"
        ) from None


def load_dictionary(path: Path) -> Dictionary:
    """A fairseq ``dict.txt`` with at least one entry."""
    from fairseq.data import Dictionary

    try:
        dictionary = Dictionary.load(str(path))
    except Exception as err:  # fairseq raises ValueError, or a bare Exception for bad encodings
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"not a fairseq dict.txt ({detail})") from None
    if len(dictionary) <= dictionary.nspecial:
        raise DataError(path, "no entries: a dict.txt has one '<piece> <count>' line per piece")
    return dictionary


def fairseq_executable(name: str) -> str:
    """The console script installed beside this Python (the venv's fairseq-train, ...)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise StiltsError(f"{name} not found beside {sys.executable}: is fairseq installed here?")
    return str(path)


USER_ERROR = "error: "  # how the plugin reports a user error in the fairseq executables
# fairseq's progress lines: training (train_inner, train) and validation, tagged by subset.
PROGRESS_LINE = re.compile(r"\| INFO \| (train_inner|train|valid[\w.]*|test[\w.]*) \| ")


def run_fairseq(name: str, args: list[str], log: Path, echo: bool = False) -> str:
    """Run ``name`` with ``--user-dir`` set; keep its output in ``log`` and, with ``echo``,
    show its progress lines on stderr as they come; return that output."""
    command = [fairseq_executable(name), *args, "--user-dir", USER_DIR]
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    with log.open("w", encoding="utf-8") as handle:
        handle.write(" ".join(command) + "\n")
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as process:
            for line in process.stdout:
                lines.append(line)
                handle.write(line)
                if echo and PROGRESS_LINE.search(line):
                    sys.stderr.write(line)
    output = "".join(lines)
    if process.returncode != 0:
        tail = output.strip().splitlines()[-15:]
        if tail and tail[-1].startswith(USER_ERROR):  # the plugin's one line: the input's fault
            raise StiltsError(f"{tail[-1][len(USER_ERROR) :]} ({name}; log: {log})")
        tail = "\n".join(tail)
        raise StiltsError(f"{name} failed (exit {process.returncode}); log: {log}\n{tail}")
    return output


EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"
# fairseq 0.9's names (the 2019 release files) of RoBERTa's weights -> today's.
LEGACY_EMBEDDINGS = "decoder.sentence_encoder.embed_tokens.weight"
LEGACY_NAMES = (("decoder.", "encoder."), (".emb_layer_norm.", ".layernorm_embedding."))


def current_names(weights: dict) -> dict:
    """RoBERTa/XLM-R weights under today's fairseq names: fairseq 0.9's ``decoder.*`` and
    ``emb_layer_norm`` renamed as fairseq's own upgrade does when a model loads them; weights of
    any other layout as they are."""
    if LEGACY_EMBEDDINGS not in weights or EMBEDDINGS in weights:
        return weights
    (old_prefix, new_prefix), (old_norm, new_norm) = LEGACY_NAMES
    renamed = {}
    for key, value in weights.items():
        if key.startswith(old_prefix):
            key = new_prefix + key[len(old_prefix) :]
        renamed[key.replace(old_norm, new_norm)] = value
    return renamed


def read_checkpoint(checkpoint: str | Path) -> dict:
    """A checkpoint's state as fairseq loads it (weights-only, with the plugin's allow-list;
    upgraded to today's config), its weights under today's names (:func:`current_names`)."""
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    state["model"] = current_names(state["model"])
    return state


class DictionaryOnlyTask:
    """What RoBERTa's ``build_model`` asks of a task: the dictionaries."""

    def __init__(self, dictionary: Dictionary) -> None:
        self.source_dictionary = self.target_dictionary = dictionary


def load_encoder(checkpoint: str | Path, model_dir: str | Path) -> RobertaModel:
    """The checkpoint's XLM-R model (without classification heads), in eval mode, on the CPU.

    The model is rebuilt from the checkpoint's own model config with the pretrained model
    folder's ``dict.txt`` (+ ``<mask>``, as the tasks add it), so no prepared data folder is
    needed; the encoder's weights must all be in the checkpoint.
    """
    from fairseq.models import ARCH_MODEL_REGISTRY, build_model
    from fairseq.models.roberta import RobertaModel

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise StiltsError(f"{checkpoint}: checkpoint not found")
    dict_path = Path(model_dir) / DICT_FILE
    if not dict_path.is_file():
        raise StiltsError(f"{dict_path}: missing (--model-dir is the pretrained model folder)")
    state = read_checkpoint(checkpoint)
    cfg = state.get("cfg")
    model_cfg = getattr(cfg, "model", None) if cfg is not None else None
    arch = getattr(model_cfg, "_name", None) or getattr(model_cfg, "arch", None)
    model_class = ARCH_MODEL_REGISTRY.get(arch)
    if model_class is None or not issubclass(model_class, RobertaModel):
        raise StiltsError(
            f"{checkpoint}: model {arch!r} is not an XLM-R/RoBERTa encoder; this reads "
            "checkpoints of the pretrained model or of fairseq-train --arch xlmr_*"
        )
    dictionary = load_dictionary(dict_path)
    dictionary.add_symbol("<mask>")
    weights = state["model"].get(EMBEDDINGS)
    if weights is not None and weights.size(0) != len(dictionary):
        raise StiltsError(
            f"{checkpoint}: the checkpoint's vocabulary has {weights.size(0)} entries but "
            f"{dict_path} (+ <mask>) has {len(dictionary)}: pass the model folder it was trained from"
        )
    model = build_model(model_cfg, DictionaryOnlyTask(dictionary))
    result = model.load_state_dict(state["model"], strict=False, model_cfg=model_cfg)
    missing = [key for key in result.missing_keys if key.startswith("encoder.sentence_encoder.")]
    if missing:
        raise StiltsError(
            f"{checkpoint}: encoder weights missing from the checkpoint: {missing[:5]}"
        )
    model.eval()
    return model
