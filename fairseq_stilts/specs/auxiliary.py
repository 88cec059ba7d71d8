"""Auxiliary tasks trained beside an intermediate task: masked-LM on multilingual text."""

from fairseq_stilts.registry import TaskSpec, register_spec

register_spec(
    TaskSpec(
        name="mlm",
        family="mlm",
        role="auxiliary",
        description="masked-LM on raw multilingual text (RAW/<lang>.txt, one sentence per line)",
        languages=(),  # any: the languages of the raw text files
        metrics=(),  # no score of its own: trained beside an intermediate task
        scoring="loss",
        max_length=256,
    )
)
