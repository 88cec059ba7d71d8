"""Load the encoder of any checkpoint of ours (phase 1 ``model.pt``, phase 2 or 3) for embedding.

The model is rebuilt from the checkpoint's own model config with the pretrained model folder's
``dict.txt`` (+ ``<mask>``, as the masked-LM and classification tasks add it), so no prepared data
folder is needed. Classification heads are not built (the task that made them is not at hand);
the encoder's weights must all be in the checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from fairseq.models import ARCH_MODEL_REGISTRY, build_model
from fairseq.models.roberta import RobertaModel

from fairseq_stilts.data.encoder import DICT_FILE
from fairseq_stilts.errors import StiltsError

EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"


class DictionaryOnlyTask:
    """What RoBERTa's ``build_model`` asks of a task: the dictionaries."""

    def __init__(self, dictionary: Dictionary) -> None:
        self.source_dictionary = self.target_dictionary = dictionary


def load_encoder(checkpoint: str | Path, model_dir: str | Path) -> RobertaModel:
    """The checkpoint's XLM-R model (without classification heads), in eval mode, on the CPU."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise StiltsError(f"{checkpoint}: checkpoint not found")
    dict_path = Path(model_dir) / DICT_FILE
    if not dict_path.is_file():
        raise StiltsError(f"{dict_path}: missing (--model-dir is the pretrained model folder)")
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state.get("cfg")
    model_cfg = getattr(cfg, "model", None) if cfg is not None else None
    arch = getattr(model_cfg, "_name", None) or getattr(model_cfg, "arch", None)
    model_class = ARCH_MODEL_REGISTRY.get(arch)
    if model_class is None or not issubclass(model_class, RobertaModel):
        raise StiltsError(
            f"{checkpoint}: model {arch!r} is not an XLM-R/RoBERTa encoder; stilts-retrieve reads "
            "checkpoints of the pretrained model or of fairseq-train --arch xlmr_*"
        )
    dictionary = Dictionary.load(str(dict_path))
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


def num_layers(model: RobertaModel) -> int:
    return len(model.encoder.sentence_encoder.layers)


def default_layer(model: RobertaModel) -> int:
    """Layer 14 of 24 (SPEC.md section 5), scaled to the model's depth."""
    return round(14 / 24 * num_layers(model))
