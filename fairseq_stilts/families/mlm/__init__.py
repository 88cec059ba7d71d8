"""The masked-LM family: multilingual text trained through the pretrained model's LM head."""

from fairseq_stilts.registry import Family, register_family


def prepare(request):
    """Raw text per language (:mod:`fairseq_stilts.families.mlm.prepare`)."""
    from fairseq_stilts.families.mlm.prepare import prepare_text

    return prepare_text(request)


FAMILY = register_family(
    Family(
        name="mlm",
        task="fairseq_stilts.families.mlm.task:MLMTask",
        config="fairseq_stilts.families.mlm.task:MLMConfig",
        criterion="masked_lm",  # fairseq's own
        # a sub-task's config does not reach ``common.tpu``, which masked_lm would ask for
        criterion_overrides={"tpu": False},
        prepare=prepare,
        metrics=("loss",),
    )
)
