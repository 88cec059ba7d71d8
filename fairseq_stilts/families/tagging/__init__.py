"""The tagging family: one label per word (UDPOS, PANX, CCG supertags)."""

from fairseq_stilts.families.stilts_task import SupervisedConfig
from fairseq_stilts.families.tagging import criterion
from fairseq_stilts.families.tagging.prepare import prepare
from fairseq_stilts.families.tagging.task import TaggingTask
from fairseq_stilts.models.stilts_xlmr import TOKEN
from fairseq_stilts.registry import Family, register_family


def tags_per_line(predictions: list) -> str:
    """XTREME's tagging file: a tag per line, a blank line between sentences."""
    return "\n\n".join("\n".join(tags) for tags in predictions) + "\n"


FAMILY = register_family(
    Family(
        name="tagging",
        task=TaggingTask,
        config=SupervisedConfig,
        criterion=criterion.NAME,
        prepare=prepare,
        metrics=criterion.METRICS,
        head=TOKEN,
        hf_datasets=True,
        submission_text=tags_per_line,
    )
)
