"""The multiple-choice family: one score per (context, choice), softmax across the choices."""

from fairseq_stilts.data.prepare.hf_local import read_hf_choices
from fairseq_stilts.registry import SENTENCE, Family, TaskSpec, register_family


def field_names(spec: TaskSpec) -> tuple[str, ...]:
    """The context, then one text per choice (``choice0`` ... ``choice<N-1>``, N labels)."""
    return ("context", *(f"choice{i}" for i in range(len(spec.labels))))


def read_hf(spec: TaskSpec, path):
    """A local HF dataset's splits, in the columns of the dataset's Hub release."""
    return read_hf_choices(path, spec.sources[0].reader, field_names(spec))


def prepare(request):
    """Labelled texts (:mod:`fairseq_stilts.data.prepare.texts`), one input per choice."""
    from fairseq_stilts.data.prepare.texts import prepare_texts

    return prepare_texts(request, read_hf)


FAMILY = register_family(
    Family(
        name="multiple_choice",
        task="fairseq_stilts.families.multiple_choice.task:MultipleChoiceTask",
        config="fairseq_stilts.families.stilts_task:SupervisedConfig",
        criterion="stilts_multiple_choice",
        prepare=prepare,
        metrics=("accuracy",),
        head=SENTENCE,  # with one output: a choice's score
        hf_datasets=True,
        translated_train=True,
        field_names=field_names,
    )
)
