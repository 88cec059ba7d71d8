"""The multiple-choice family: one score per (context, choice), softmax across the choices."""

from fairseq_stilts.data.prepare.hf_local import read_hf_choices
from fairseq_stilts.data.prepare.texts import prepare_texts
from fairseq_stilts.families.multiple_choice import criterion
from fairseq_stilts.families.multiple_choice.task import MultipleChoiceTask
from fairseq_stilts.families.stilts_task import SupervisedConfig
from fairseq_stilts.models.stilts_xlmr import SENTENCE
from fairseq_stilts.registry import Family, TaskSpec, register_family


def field_names(spec: TaskSpec) -> tuple[str, ...]:
    """The context, then one text per choice (``choice0`` ... ``choice<N-1>``, N labels)."""
    return ("context", *(f"choice{i}" for i in range(len(spec.labels))))


def read_hf(spec: TaskSpec, path):
    """A local HF dataset's splits, in the columns of the dataset's Hub release."""
    return read_hf_choices(path, spec.sources[0].reader, field_names(spec))


def prepare(request):
    """Labelled texts (:mod:`fairseq_stilts.data.prepare.texts`), one input per choice."""
    return prepare_texts(request, read_hf)


FAMILY = register_family(
    Family(
        name="multiple_choice",
        task=MultipleChoiceTask,
        config=SupervisedConfig,
        criterion=criterion.NAME,
        prepare=prepare,
        metrics=("accuracy",),
        head=SENTENCE,  # with one output: a choice's score
        hf_datasets=True,
        translated_train=True,
        field_names=field_names,
    )
)
