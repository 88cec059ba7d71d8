"""The multiple-choice family: HellaSwag, CommonsenseQA and Cosmos QA readers, prepare, train,
validate, predictions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import fairseq, train_args
from fairseq import checkpoint_utils
from fairseq.data import Dictionary, data_utils

from fairseq_stilts.data.prepare.examples import parts_from_files
from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.errors import DataError
from fairseq_stilts.registry import get_spec
from fairseq_stilts.tiny import DATA_DIR

TASKS = {"hellaswag": 4, "cosmosqa": 4, "commonsenseqa": 5}


def _read(task: str, path: Path) -> list:
    spec = get_spec(task)
    source = spec.sources[0]
    return list(get_reader(source.reader)(path, source.columns, spec.field_names, False))


def _jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in records))
    return path


def _hellaswag(label=0, endings=("a b.", "c d.", "e f.", "g h."), **extra) -> dict:
    return {
        "ctx_a": "Anna buys apples.",
        "ctx_b": "Anna puts",
        "endings": list(endings),
        "label": label,
        **extra,
    }


def _csqa(answer="B", texts=("red", "blue", "green", "black", "white")) -> dict:
    choices = [{"label": "ABCDE"[i], "text": t} for i, t in enumerate(texts)]
    return {
        "answerKey": answer,
        "id": "x",
        "question": {"stem": "What colour?", "choices": choices},
    }


def _cosmos(label=2, **extra) -> dict:
    answers = {f"answer{i}": f"answer number {i}" for i in range(4)}
    return {
        "id": "c",
        "context": "Ben is here.",
        "question": "Where is Ben?",
        **answers,
        "label": label,
        **extra,
    }


# Readers.


def test_hellaswag_reader_joins_ctx_a_and_ctx_b_or_takes_ctx(tmp_path):
    path = _jsonl(
        tmp_path / "h.jsonl", [_hellaswag(label=3), _hellaswag(label=1, ctx="Whole ctx.")]
    )
    first, second = _read("hellaswag", path)
    assert first.texts == ("Anna buys apples. Anna puts", "a b.", "c d.", "e f.", "g h.")
    assert (first.label, first.line) == ("3", 1)
    assert second.texts[0] == "Whole ctx." and second.label == "1"


def test_commonsenseqa_reader_maps_answer_key_to_the_choice_index(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", [_csqa("D"), _csqa("A")])
    first, second = _read("commonsenseqa", path)
    assert first.texts == ("What colour?", "red", "blue", "green", "black", "white")
    assert (first.label, second.label) == ("3", "0")


def test_cosmosqa_reader_reads_jsonl_and_csv_alike(tmp_path):
    record = _cosmos(label=2)
    jsonl = _jsonl(tmp_path / "train.jsonl", ["\n", record])
    csv_path = tmp_path / "train.csv"
    columns = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    lines = [",".join(columns)]
    lines.append(
        ",".join(f'"{record[c]}, too"' if c == "context" else str(record[c]) for c in columns)
    )
    csv_path.write_text("\n".join(lines) + "\n")
    (from_json,) = _read("cosmosqa", jsonl)
    (from_csv,) = _read("cosmosqa", csv_path)
    assert from_json.texts == (
        "Ben is here. Where is Ben?",
        *(f"answer number {i}" for i in range(4)),
    )
    assert (from_json.label, from_json.line) == ("2", 2)
    assert from_csv.texts[0] == "Ben is here., too Where is Ben?"
    assert from_csv.texts[1:] == from_json.texts[1:]
    assert (from_csv.label, from_csv.line) == ("2", 2)


@pytest.mark.parametrize(
    ("task", "records", "line", "message"),
    [
        (
            "hellaswag",
            [_hellaswag(), _hellaswag(endings=("a.", "b.", "c."))],
            2,
            "found 3 choices; every example of this task has 4",
        ),
        ("hellaswag", [_hellaswag(label=4)], 1, "label 4 out of range"),
        ("hellaswag", [_hellaswag(), "{not json\n"], 2, "invalid JSON"),
        ("hellaswag", [{"ctx": "x", "label": 0}], 1, "missing field 'endings'"),
        (
            "commonsenseqa",
            [_csqa(), _csqa("F")],
            2,
            "answerKey 'F' is not one of the choice labels",
        ),
        (
            "commonsenseqa",
            [_csqa(texts=("a", "b", "c", "d"))],
            1,
            "found 4 choices; every example of this task has 5",
        ),
        ("cosmosqa", [_cosmos(label=-1)], 1, "label -1 out of range"),
        (
            "cosmosqa",
            [_cosmos(answer4="extra")],
            1,
            "found 5 choices; every example of this task has 4",
        ),
        ("cosmosqa", [{"context": "c", "question": "q", "label": 0}], 1, "missing field"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, task, records, line, message):
    path = _jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(DataError, match=re.escape(message)) as info:
        _read(task, path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert info.value.line == line


def test_cosmosqa_csv_errors_name_the_line(tmp_path):
    path = tmp_path / "valid.csv"
    path.write_text(
        "id,context,question,answer0,answer1,answer2,answer3,label\nx,c,q,a,b,c,d,0\ny,c,q,a,b,c,d,7\n"
    )
    with pytest.raises(DataError, match=r"valid\.csv:3: label 7 out of range"):
        _read("cosmosqa", path)


def test_empty_choice_text_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    _jsonl(
        raw / "hellaswag_train.jsonl", [_hellaswag(), _hellaswag(endings=("a.", " ", "c.", "d."))]
    )
    _jsonl(raw / "hellaswag_val.jsonl", [_hellaswag()])
    with pytest.raises(DataError, match=r"hellaswag_train\.jsonl:2: empty text in field 'choice1'"):
        parts_from_files(get_spec("hellaswag"), raw, None)


# Prepare.


@pytest.mark.parametrize("task", sorted(TASKS))
def test_prepare_writes_context_choices_and_gold_index(task, prepared, tiny_model):
    n = TASKS[task]
    data = prepared(task)
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["family"] == "multiple_choice"
    assert manifest["input_fields"] == ["context", *(f"choice{i}" for i in range(n))]
    assert manifest["labels"] == [str(i) for i in range(n)]
    assert set(manifest["subsets"]) == {"train", "valid", "valid.en"}
    assert manifest["languages"] == {"train": ["en"], "dev": ["en"], "test": []}
    spec = get_spec(task)
    expected = {
        split: [
            ex
            for p in parts_from_files(spec, DATA_DIR / task, None)
            if p.split == split
            for ex in p.labels
        ]
        for split in ("train", "dev")
    }
    assert manifest["subsets"]["train"]["count"] == len(expected["train"]) >= 24
    assert manifest["subsets"]["valid"]["count"] == len(expected["dev"]) >= 12
    label_dict = Dictionary.load(str(data / "label" / "dict.txt"))
    assert label_dict.symbols[label_dict.nspecial :] == [str(i) for i in range(n)]
    labels = data_utils.load_indexed_dataset(str(data / "label" / "valid"), label_dict)
    assert [int(labels[i][0]) - label_dict.nspecial for i in range(len(labels))] == expected["dev"]
    assert len(set(expected["dev"])) > 1  # the gold choice is not always the same position
    dictionary = Dictionary.load(str(tiny_model / "dict.txt"))
    for i in range(n + 1):
        assert (data / f"input{i}" / "dict.txt").read_bytes() == (
            tiny_model / "dict.txt"
        ).read_bytes()
        items = data_utils.load_indexed_dataset(str(data / f"input{i}" / "valid"), dictionary)
        assert len(items) == len(expected["dev"])
        assert all(int(items[k][-1]) == dictionary.eos() for k in range(len(items)))


def test_tiny_fixtures_follow_a_learnable_rule():
    """The right choice repeats what the context says; no wrong choice does."""
    for task in TASKS:
        for part in parts_from_files(get_spec(task), DATA_DIR / task, None):
            for texts, gold in zip(part.examples, part.labels, strict=True):
                context, choices = texts[0].lower(), texts[1:]

                def overlap(choice, context=context):
                    key = re.sub(r"^(the|they are) ", "", choice.lower().rstrip("."))
                    return key.split(" on ")[0] in context

                assert [overlap(c) for c in choices] == [i == gold for i in range(len(choices))], (
                    task,
                    texts,
                )


# End to end: stock fairseq-train / fairseq-validate.


def _independent_choices(checkpoint, data, subset, head) -> tuple[list[int], list[int]]:
    """(chosen, gold) index of each example: argmax over the per-choice scores of the loaded
    model, one example at a time."""
    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data)}
    )
    model = models[0].eval()
    task.load_dataset(subset)
    dataset = task.dataset(subset)
    chosen, gold = [], []
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = dataset.collater([dataset[i]])
            scores = [
                model(batch[f"net_input{c}"]["src_tokens"], classification_head_name=head)[0].item()
                for c in range(1, task.num_choices + 1)
            ]
            chosen.append(max(range(len(scores)), key=scores.__getitem__))
            gold.append(batch["target"].item())
    return chosen, gold


def _predictions(path: Path) -> list:
    """A --predictions-dir file's predictions in example order (each id once)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == list(range(len(lines)))
    return [line["prediction"] for line in sorted(lines, key=lambda line: line["id"])]


@pytest.mark.slow
def test_hellaswag_trains_and_validates_through_fairseq(tmp_path, prepared, tiny_model):
    data = prepared("hellaswag")
    args = train_args("hellaswag", data, tiny_model / "model.pt", tmp_path, 6, validate=True)
    args[args.index("--criterion") + 1] = "stilts_multiple_choice"
    log = fairseq("fairseq-train", *args, "--predictions-dir", str(tmp_path / "during"))
    assert "train_accuracy" in log.stdout + log.stderr
    # validation inside fairseq-train: the latest pass over the subset, every example once
    assert set(_predictions(tmp_path / "during" / "valid.0.jsonl")) <= {0, 1, 2, 3}
    checkpoint = tmp_path / "checkpoint_last.pt"
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))["model"]
    assert (
        state["classification_heads.hellaswag.out_proj.weight"].shape[0] == 1
    )  # one score per choice
    result = fairseq(
        "fairseq-validate",
        str(data),
        "--task",
        "hellaswag",
        "--path",
        str(checkpoint),
        "--cpu",
        "--valid-subset",
        "valid",
        "--batch-size",
        "5",
        "--predictions-dir",
        str(tmp_path / "after"),
    )
    printed = re.findall(
        r"valid on 'valid' subset .*?\| accuracy ([\d.]+) .*?\| bsz ([\d.]+)",
        result.stdout + result.stderr,
    )
    assert len(printed) == 1
    chosen, gold = _independent_choices(checkpoint, data, "valid", "hellaswag")
    assert len(gold) == 24
    assert _predictions(tmp_path / "after" / "valid.0.jsonl") == chosen
    expected = 100.0 * sum(c == g for c, g in zip(chosen, gold, strict=True)) / len(gold)
    assert float(printed[0][0]) == pytest.approx(expected, abs=1e-3)


@pytest.mark.slow
def test_multiple_choice_task_refuses_the_classification_criterion(tmp_path, prepared, tiny_model):
    args = train_args(
        "commonsenseqa", prepared("commonsenseqa"), tiny_model / "model.pt", tmp_path, 1
    )
    result = fairseq("fairseq-train", *args, check=False)
    assert result.returncode != 0
    assert (
        "error: task 'commonsenseqa' trains with --criterion stilts_multiple_choice"
        in result.stderr
    )
