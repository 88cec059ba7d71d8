"""The tagging family: one label per word (UDPOS, PANX, CCG supertags)."""

from fairseq_stilts.registry import TOKEN, Family, TaskSpec, register_family


def prepare(request):
    """Token-tag files (:mod:`fairseq_stilts.families.tagging.prepare`)."""
    from fairseq_stilts.families.tagging.prepare import prepare_tags

    return prepare_tags(request)


def tags_per_line(predictions: list) -> str:
    """XTREME's tagging file: a tag per line, a blank line between sentences."""
    return "\n\n".join("\n".join(tags) for tags in predictions) + "\n"


def sentences(spec: TaskSpec, text: str) -> int:
    """The sentences of a tagging submission file."""
    return len([block for block in text.split("\n\n") if block.strip()])


FAMILY = register_family(
    Family(
        name="tagging",
        task="fairseq_stilts.families.tagging.task:TaggingTask",
        config="fairseq_stilts.families.stilts_task:SupervisedConfig",
        criterion="stilts_tagging",
        prepare=prepare,
        metrics=("seqeval_f1", "token_accuracy"),
        head=TOKEN,
        hf_datasets=True,
        submission_text=tags_per_line,
        submission_count=sentences,
    )
)
