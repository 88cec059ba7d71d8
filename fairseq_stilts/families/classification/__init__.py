"""The classification family: one label per sentence or sentence pair."""

from fairseq_stilts.data.prepare.hf_local import read_hf_local
from fairseq_stilts.registry import SENTENCE, Family, TaskSpec, register_family


def read_hf(spec: TaskSpec, path):
    """A local HF dataset's splits, a column per input field."""
    return read_hf_local(path, spec.input_fields)


def prepare(request):
    """Labelled texts (:mod:`fairseq_stilts.data.prepare.texts`)."""
    from fairseq_stilts.data.prepare.texts import prepare_texts

    return prepare_texts(request, read_hf)


FAMILY = register_family(
    Family(
        name="classification",
        task="fairseq_stilts.families.classification.task:ClassificationTask",
        config="fairseq_stilts.families.stilts_task:SupervisedConfig",
        criterion="stilts_classification",
        prepare=prepare,
        metrics=("accuracy",),
        head=SENTENCE,
        hf_datasets=True,
        translated_train=True,
    )
)
