"""The task catalogue: 18 tasks + masked-LM, their families and languages, and how they surface in
fairseq."""

from __future__ import annotations

import catalogue
import pytest
from fairseq import tasks as fairseq_tasks
from omegaconf import OmegaConf

import fairseq_stilts  # noqa: F401  (registers the tasks with fairseq)
from fairseq_stilts.cli import tasks as tasks_cli
from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.fairseq_tasks import register_fairseq_tasks
from fairseq_stilts.registry import (
    TaskSpec,
    all_specs,
    families,
    get_family,
    get_spec,
    register_spec,
)

FAMILIES = ("classification", "multiple_choice", "span_qa", "tagging", "retrieval", "mlm")

INTERMEDIATE = {
    "anli_plus": "classification",
    "mnli": "classification",
    "qqp": "classification",
    "sst2": "classification",
    "squad": "span_qa",
    "squad_v2": "span_qa",
    "hellaswag": "multiple_choice",
    "cosmosqa": "multiple_choice",
    "commonsenseqa": "multiple_choice",
    "ccg": "tagging",
}
TARGETS = {
    "xnli": "classification",
    "pawsx": "classification",
    "udpos": "tagging",
    "panx": "tagging",
    "xquad": "span_qa",
    "mlqa": "span_qa",
    "tydiqa": "span_qa",
    "bucc": "retrieval",
    "tatoeba": "retrieval",
}
AUXILIARY = {"mlm": "mlm"}
ALL_TASKS = {**INTERMEDIATE, **TARGETS, **AUXILIARY}
# XTREME's languages per target (docs/tasks.md).
LANGUAGE_COUNTS = {
    "xnli": 15,
    "pawsx": 7,
    "udpos": 33,
    "panx": 40,
    "xquad": 11,
    "mlqa": 7,
    "tydiqa": 9,
    "bucc": 4,
    "tatoeba": 36,
}
TRAINABLE = {
    name
    for name, family in ALL_TASKS.items()
    if family in ("classification", "multiple_choice", "tagging", "span_qa")
}
TAGGING = {"ccg", "udpos", "panx"}
MULTIPLE_CHOICE = {"hellaswag": 4, "cosmosqa": 4, "commonsenseqa": 5}
RETRIEVAL = {name for name, family in ALL_TASKS.items() if family == "retrieval"}
SPAN_QA = {name for name, family in ALL_TASKS.items() if family == "span_qa"}


def test_exactly_the_eighteen_tasks_squad_v2_and_mlm_are_registered():
    assert set(all_specs()) == set(ALL_TASKS)
    assert len(all_specs()) == 20  # SQuAD v1.1 and v2.0 are two specs of one intermediate task


@pytest.mark.parametrize("name", sorted(ALL_TASKS))
def test_spec_family_and_role(name):
    spec = get_spec(name)
    assert spec.name == name
    assert spec.family == ALL_TASKS[name]
    role = (
        "intermediate" if name in INTERMEDIATE else "auxiliary" if name in AUXILIARY else "target"
    )
    assert spec.role == role
    assert spec.family in FAMILIES


@pytest.mark.parametrize("name", sorted(INTERMEDIATE))
def test_intermediate_tasks_are_english_only(name):
    assert get_spec(name).languages == ("en",)


@pytest.mark.parametrize("name,count", sorted(LANGUAGE_COUNTS.items()))
def test_target_language_counts(name, count):
    languages = get_spec(name).languages
    assert len(languages) == count
    assert len(set(languages)) == count, "duplicate language codes"


def test_target_language_details():
    assert set(get_spec("bucc").languages) == {"de", "fr", "ru", "zh"}
    # Tatoeba and BUCC are scored against English: English is not one of their languages.
    assert "en" not in get_spec("tatoeba").languages
    assert "en" not in get_spec("bucc").languages
    for name in ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa"):
        assert "en" in get_spec(name).languages, name


def test_the_targets_carry_their_xtreme_folder_names():
    from fairseq_stilts.results.categories import XTREME_TASKS

    named = {name: spec.xtreme_name for name, spec in all_specs().items() if spec.xtreme_name}
    assert set(named) == set(XTREME_TASKS)
    assert set(named.values()) == set(XTREME_TASKS) - {"bucc"} | {"bucc2018"}


def test_classification_label_sets():
    nli = ("entailment", "neutral", "contradiction")
    for name in ("mnli", "anli_plus", "xnli"):
        assert get_spec(name).labels == nli, name
    for name in ("qqp", "sst2", "pawsx"):
        assert get_spec(name).labels == ("0", "1"), name
    assert get_spec("xnli").canonical_label("contradictory") == "contradiction"
    assert get_spec("anli_plus").canonical_label("c") == "contradiction"
    assert get_spec("anli_plus").skip_labels == ("-",)


def test_every_family_has_a_record_with_a_fairseq_task_class():
    assert set(families.get_all()) == set(FAMILIES)
    for name in FAMILIES:
        family = get_family(name)
        assert family.name == name
        assert issubclass(family.task_class, fairseq_tasks.FairseqTask), name
        assert family.trainable == (name != "retrieval"), name
    assert {n for n, f in ALL_TASKS.items() if f == "tagging"} == TAGGING


@pytest.mark.parametrize("name", sorted(TAGGING))
def test_tagging_specs_read_token_tag_columns(name):
    spec = get_spec(name)
    spec.require_trainable()  # does not raise
    assert {s.reader for s in spec.sources} == {"token_tags"}
    assert spec.input_fields == ("tokens",)
    assert bool(spec.labels) == (name != "ccg")  # CCG takes its tag set from the training file


@pytest.mark.parametrize("name", sorted(MULTIPLE_CHOICE))
def test_multiple_choice_specs_name_one_text_per_choice(name):
    spec = get_spec(name)
    n = MULTIPLE_CHOICE[name]
    assert spec.labels == tuple(str(i) for i in range(n))
    assert spec.field_names == ("context", *(f"choice{i}" for i in range(n)))
    assert {s.reader for s in spec.sources} == {f"{name}_jsonl" if name != "cosmosqa" else name}


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_trainable_specs_have_sources_with_registered_readers(name):
    spec = get_spec(name)
    spec.require_trainable()  # does not raise
    assert spec.sources
    assert {s.split for s in spec.sources} >= {"train", "dev"}
    for source in spec.sources:
        assert callable(get_reader(source.reader))
        if name not in TAGGING | SPAN_QA:  # token-tag and SQuAD files have fixed fields
            assert set(source.columns) == {*spec.input_fields, "label"}


def test_unknown_task_lists_known_tasks():
    with pytest.raises(StiltsError) as info:
        get_spec("xnlii")
    message = str(info.value)
    assert "'xnlii'" in message
    for name in ALL_TASKS:
        assert name in message


def test_retrieval_specs_have_the_xtreme_file_layout():
    tatoeba = get_spec("tatoeba")
    assert {(s.split, s.pattern.format(lang="de"), s.lang) for s in tatoeba.sources} == {
        ("test", "de-en.de", "{lang}"),
        ("test", "de-en.en", "en"),
    }
    bucc = get_spec("bucc")
    patterns = {s.pattern.format(lang="fr") for s in bucc.sources}
    assert patterns == {
        f"fr-en.{split}.{ext}" for split in ("dev", "test") for ext in ("fr", "en", "gold")
    }
    for source in (*tatoeba.sources, *bucc.sources):
        assert callable(get_reader(source.reader))


@pytest.mark.parametrize("name", sorted(RETRIEVAL))
def test_retrieval_tasks_refuse_training_and_point_to_stilts_retrieve(name):
    spec = get_spec(name)
    with pytest.raises(StiltsError, match="no training data") as info:
        spec.require_trainable()
    assert f"stilts-retrieve {name}" in str(info.value)
    cfg = OmegaConf.create({"_name": name, "data": ""})
    with pytest.raises(StiltsError, match="no training data"):
        fairseq_tasks.setup_task(cfg)


def test_register_spec_rejects_unknown_family():
    bogus = TaskSpec(
        name="bogus_task",
        family="translation",
        role="intermediate",
        description="not a family",
        languages=("en",),
        metrics=("accuracy",),
        scoring="accuracy",
        max_length=8,
    )
    register_spec(bogus)
    try:
        with pytest.raises(StiltsError, match="'bogus_task': unknown family 'translation'"):
            register_fairseq_tasks()
    finally:
        catalogue.REGISTRY.pop(("fairseq_stilts", "tasks", "bogus_task"), None)
    assert "bogus_task" not in all_specs()


def test_a_spec_naming_a_metric_its_family_does_not_log_is_refused():
    typo = TaskSpec(
        name="typo_task",
        family="classification",
        role="intermediate",
        description="names a metric classification does not log",
        languages=("en",),
        metrics=("acuracy",),
        scoring="accuracy",
        max_length=8,
    )
    register_spec(typo)
    try:
        with pytest.raises(StiltsError, match=r"'typo_task': metric\(s\) \['acuracy'\] are not"):
            register_fairseq_tasks()
    finally:
        catalogue.REGISTRY.pop(("fairseq_stilts", "tasks", "typo_task"), None)


def test_register_spec_as_a_decorator_adds_a_looked_up_task():
    @register_spec
    def plugin_task() -> TaskSpec:
        return TaskSpec(
            name="plugin_nli",
            family="classification",
            role="intermediate",
            description="a spec added by another package",
            languages=("en",),
            metrics=("accuracy",),
            scoring="accuracy",
            max_length=128,
        )

    try:
        assert get_spec("plugin_nli") is plugin_task
    finally:  # keep the registry clean for the other tests
        catalogue.REGISTRY.pop(("fairseq_stilts", "tasks", "plugin_nli"), None)
    assert "plugin_nli" not in all_specs()


def test_a_spec_registered_again_replaces_the_one_looked_up_before():
    import dataclasses

    first = register_spec(dataclasses.replace(get_spec("xnli"), name="again_nli"))
    try:
        assert get_spec("again_nli") is first  # looked up (and remembered)
        second = register_spec(dataclasses.replace(first, description="registered again"))
        assert get_spec("again_nli") is second
    finally:
        catalogue.REGISTRY.pop(("fairseq_stilts", "tasks", "again_nli"), None)


def test_unknown_reader_is_a_registry_error():
    with pytest.raises(catalogue.RegistryError):
        get_reader("no_such_reader")


@pytest.mark.parametrize("name", sorted(ALL_TASKS))
def test_every_spec_is_a_fairseq_task(name):
    assert name in fairseq_tasks.TASK_REGISTRY
    assert name in fairseq_tasks.TASK_DATACLASS_REGISTRY
    assert fairseq_tasks.TASK_REGISTRY[name].spec.name == name


def test_fairseq_task_classes_follow_the_family():
    from fairseq_stilts.families.classification.task import ClassificationTask
    from fairseq_stilts.families.mlm.task import MLMTask
    from fairseq_stilts.families.multiple_choice.task import MultipleChoiceTask
    from fairseq_stilts.families.retrieval.task import RetrievalTask
    from fairseq_stilts.families.span_qa.task import SpanQATask
    from fairseq_stilts.families.tagging.task import TaggingTask

    expected = {
        "classification": ClassificationTask,
        "multiple_choice": MultipleChoiceTask,
        "tagging": TaggingTask,
        "retrieval": RetrievalTask,
        "span_qa": SpanQATask,
        "mlm": MLMTask,
    }
    for name, family in ALL_TASKS.items():
        cls = fairseq_tasks.TASK_REGISTRY[name]
        assert issubclass(cls, expected[family]), name
        assert issubclass(cls, MultipleChoiceTask) == (family == "multiple_choice"), name
        assert issubclass(cls, TaggingTask) == (family == "tagging"), name


def test_fairseq_setup_of_classification_task_needs_prepared_data(tmp_path):
    cfg = OmegaConf.create({"_name": "xnli", "data": str(tmp_path)})
    with pytest.raises(StiltsError, match="stilts-prepare xnli") as info:
        fairseq_tasks.setup_task(cfg)
    assert str(tmp_path / "manifest.json") in str(info.value)


def _task_rows(out: str) -> dict[str, list[str]]:
    lines = out.strip().splitlines()
    assert lines[0].split() == ["task", "role", "family", "runs_with", "task_class", "languages"]
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_stilts_tasks_lists_all_tasks_and_how_they_run(capsys):
    tasks_cli.main([])
    rows = _task_rows(capsys.readouterr().out)
    assert set(rows) == set(ALL_TASKS)
    for name, cells in rows.items():
        spec = get_spec(name)
        assert cells[1] == spec.role
        assert cells[2] == spec.family
        assert cells[3] == ("stilts-retrieve" if name in RETRIEVAL else "fairseq"), name
        family_class = fairseq_tasks.TASK_REGISTRY[name].__mro__[1]
        assert cells[4] == family_class.__name__
        assert cells[5] == f"(fairseq_stilts/families/{spec.family}/task.py)"
        assert cells[6:] == (list(spec.languages) or ["any"])  # mlm: the user's text files


def test_stilts_tasks_lists_intermediate_tasks_first(capsys):
    tasks_cli.main([])
    names = list(_task_rows(capsys.readouterr().out))
    roles = [get_spec(n).role for n in names]
    assert roles == sorted(roles, key=tasks_cli.ROLES.index)  # intermediate, auxiliary, target
    assert roles.count("intermediate") == 10  # nine tasks, SQuAD in two versions
    assert roles.count("auxiliary") == 1  # mlm
