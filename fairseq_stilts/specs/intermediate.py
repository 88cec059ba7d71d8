"""Intermediate (phase 2) tasks of X-STILTs, all English. Facts: docs/tasks.md."""

from fairseq_stilts.registry import Source, TaskSpec, register_spec

NLI_LABELS = ("entailment", "neutral", "contradiction")
PAIR = ("sentence1", "sentence2")
EN = ("en",)


def _glue(split: str, path: str, columns: dict) -> Source:
    return Source(split=split, pattern=path, reader="tsv", columns=columns, header=True)


def _jsonl(split: str, path: str, columns: dict) -> Source:
    return Source(split=split, pattern=path, reader="jsonl", columns=columns)


# MNLI (GLUE TSV) and SNLI (JSONL) name their fields alike.
NLI_COLUMNS = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "gold_label"}
ANLI_COLUMNS = {"sentence1": "context", "sentence2": "hypothesis", "label": "label"}


def _glue_pairs(
    columns: dict, train: str = "train.tsv", dev: str = "dev.tsv"
) -> tuple[Source, ...]:
    return (_glue("train", train, columns), _glue("dev", dev, columns))


def _english_classification(
    name: str,
    description: str,
    labels: tuple[str, ...],
    sources: tuple[Source, ...],
    input_fields: tuple[str, ...] = PAIR,
    **extra,
) -> TaskSpec:
    return register_spec(
        TaskSpec(
            name=name,
            family="classification",
            role="intermediate",
            description=description,
            languages=EN,
            metrics=("accuracy",),
            scoring="accuracy",
            max_length=256,
            input_fields=input_fields,
            labels=labels,
            sources=sources,
            **extra,
        )
    )


# Translated training data (translate-train, docs/data-formats.md): a ``{lang}`` training source is
# read only for the languages asked for with stilts-prepare --train-languages.
XNLI_MT_COLUMNS = {"sentence1": "premise", "sentence2": "hypo", "label": "label"}
_english_classification(
    "mnli",
    "MultiNLI (GLUE), matched dev",
    NLI_LABELS,
    (
        *_glue_pairs(NLI_COLUMNS, dev="dev_matched.tsv"),
        Source(
            "train",
            "XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv",
            "tsv",
            XNLI_MT_COLUMNS,
            lang="{lang}",
            header=True,
        ),
    ),
    label_aliases={"contradictory": "contradiction"},  # XNLI-MT's spelling
)
_english_classification(
    "anli_plus",
    "ANLI+: SNLI + MNLI + ANLI rounds 1-3 through one shared NLI head",
    NLI_LABELS,
    (
        _jsonl("train", "snli_1.0/snli_1.0_train.jsonl", NLI_COLUMNS),
        _glue("train", "MNLI/train.tsv", NLI_COLUMNS),
        *(_jsonl("train", f"anli_v1.0/R{r}/train.jsonl", ANLI_COLUMNS) for r in (1, 2, 3)),
        _jsonl("dev", "snli_1.0/snli_1.0_dev.jsonl", NLI_COLUMNS),
        _glue("dev", "MNLI/dev_matched.tsv", NLI_COLUMNS),
        *(_jsonl("dev", f"anli_v1.0/R{r}/dev.jsonl", ANLI_COLUMNS) for r in (1, 2, 3)),
    ),
    label_aliases={"e": "entailment", "n": "neutral", "c": "contradiction"},
    # SNLI marks pairs without annotator consensus with "-": they have no gold label.
    skip_labels=("-",),
)
_english_classification(
    "qqp",
    "Quora Question Pairs (GLUE)",
    ("0", "1"),
    _glue_pairs({"sentence1": "question1", "sentence2": "question2", "label": "is_duplicate"}),
)
_english_classification(
    "sst2",
    "Stanford Sentiment Treebank, binary (GLUE)",
    ("0", "1"),
    _glue_pairs({"sentence": "sentence", "label": "label"}),
    input_fields=("sentence",),
)

# XTREME's translate-train of SQuAD v1.1
SQUAD_TRANSLATED = Source(
    "train", "translate-train/squad.translate.train.en-{lang}.json", "squad_json", {}, lang="{lang}"
)
for _name, _version, _translated in (
    ("squad", "1.1", (SQUAD_TRANSLATED,)),
    ("squad_v2", "2.0", ()),
):
    register_spec(
        TaskSpec(
            name=_name,
            family="span_qa",
            role="intermediate",
            description=f"SQuAD v{_version}"
            + (" (with unanswerable questions)" if _version == "2.0" else ""),
            languages=EN,
            metrics=("f1", "exact_match"),
            scoring="squad_v2" if _version == "2.0" else "squad_v1",
            max_length=384,
            input_fields=("question", "context"),
            sources=(
                Source("train", f"train-v{_version}.json", "squad_json", {}),
                Source("dev", f"dev-v{_version}.json", "squad_json", {}),
                *_translated,
            ),
        )
    )

# Multiple choice: the readers know each format; ``columns`` names the raw fields they read.
for _name, _desc, _n, _reader, _train, _dev, _columns in (
    (
        "hellaswag",
        "HellaSwag, 4 endings",
        4,
        "hellaswag_jsonl",
        "hellaswag_train.jsonl",
        "hellaswag_val.jsonl",
        {"context": "ctx", "choices": "endings", "label": "label"},
    ),
    (
        "cosmosqa",
        "Cosmos QA, 4 answers (JSONL or CSV)",
        4,
        "cosmosqa",
        "train.jsonl",
        "valid.jsonl",
        {"context": "context question", "choices": "answer0..answer3", "label": "label"},
    ),
    (
        "commonsenseqa",
        "CommonsenseQA, 5 answers",
        5,
        "commonsenseqa_jsonl",
        "train_rand_split.jsonl",
        "dev_rand_split.jsonl",
        {"context": "question.stem", "choices": "question.choices", "label": "answerKey"},
    ),
):
    register_spec(
        TaskSpec(
            name=_name,
            family="multiple_choice",
            role="intermediate",
            description=_desc,
            languages=EN,
            metrics=("accuracy",),
            scoring="accuracy",
            max_length=256,
            input_fields=("context", "choices"),
            labels=tuple(str(i) for i in range(_n)),
            sources=(
                Source("train", _train, _reader, _columns),
                Source("dev", _dev, _reader, _columns),
            ),
        )
    )

register_spec(
    TaskSpec(
        name="ccg",
        family="tagging",
        role="intermediate",
        description="CCGbank supertags (~1,363 tags; licensed data, local files only)",
        languages=EN,
        metrics=("token_accuracy",),
        scoring="token_accuracy",
        max_length=256,
        input_fields=("tokens",),
        sources=(
            Source("train", "train.tsv", "token_tags", {}),
            Source("dev", "dev.tsv", "token_tags", {}),
        ),
    )
)
