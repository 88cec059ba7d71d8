"""The nine XTREME target tasks, in the layout of XTREME's download script. Facts: docs/tasks.md, docs/data-formats.md."""

from fairseq_stilts.registry import Source, TaskSpec, register_spec

XNLI_LANGS = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
PAWSX_LANGS = tuple("de en es fr ja ko zh".split())
UDPOS_LANGS = tuple(
    "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur "
    "vi yo zh".split()
)
PANX_LANGS = tuple(
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru "
    "sw ta te th tl tr ur vi yo zh".split()
)
TATOEBA_LANGS = tuple(lang for lang in PANX_LANGS if lang not in ("en", "ms", "my", "yo"))
UPOS_TAGS = tuple(
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


def _xtreme_layout(reader: str, columns: dict, ext: str = "tsv") -> tuple[Source, ...]:
    return (
        Source("train", f"train-en.{ext}", reader, columns),
        Source("dev", f"dev-{{lang}}.{ext}", reader, columns, lang="{lang}"),
        Source("test", f"test-{{lang}}.{ext}", reader, columns, lang="{lang}"),
    )


PAIR_COLUMNS = {"sentence1": 0, "sentence2": 1, "label": 2}
# Retrieval (docs/data-formats.md): BUCC sentence files ``id<TAB>sentence``, gold ``id_l<TAB>id_en``;
# Tatoeba: one sentence per line, line i of ``<l>-en.<l>`` translating line i of ``<l>-en.en``.
ID_SENTENCE = {"id": 0, "sentence": 1}
GOLD_PAIR = {"source_id": 0, "target_id": 1}

register_spec(
    TaskSpec(
        name="xnli",
        xtreme_name="xnli",
        family="classification",
        role="target",
        description="Cross-lingual NLI; English train is MNLI",
        languages=XNLI_LANGS,
        metrics=("accuracy",),
        scoring="accuracy",
        max_length=256,
        input_fields=("sentence1", "sentence2"),
        labels=("entailment", "neutral", "contradiction"),
        sources=_xtreme_layout("tsv", PAIR_COLUMNS),
        label_aliases={"contradictory": "contradiction"},
    )
)

register_spec(
    TaskSpec(
        name="pawsx",
        xtreme_name="pawsx",
        family="classification",
        role="target",
        description="PAWS-X paraphrase adversaries; English train is PAWS-Wiki",
        languages=PAWSX_LANGS,
        metrics=("accuracy",),
        scoring="accuracy",
        max_length=256,
        input_fields=("sentence1", "sentence2"),
        labels=("0", "1"),
        sources=(
            *_xtreme_layout("tsv", PAIR_COLUMNS),
            # PAWS-X's machine-translated training data (read only when asked for)
            Source(
                "train",
                "{lang}/translated_train.tsv",
                "tsv",
                {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"},
                lang="{lang}",
                header=True,
            ),
        ),
    )
)

for _name, _desc, _langs, _tags, _extra in (
    ("udpos", "Universal Dependencies v2.5 POS tags", UDPOS_LANGS, UPOS_TAGS, ("token_accuracy",)),
    ("panx", "WikiANN named entities (IOB2)", PANX_LANGS, NER_TAGS, ()),
):
    register_spec(
        TaskSpec(
            name=_name,
            xtreme_name=_name,
            family="tagging",
            role="target",
            description=_desc,
            languages=_langs,
            metrics=("seqeval_f1",),
            extra_metrics=_extra,
            scoring="seqeval",
            max_length=256,
            input_fields=("tokens",),
            labels=_tags,
            sources=_xtreme_layout("token_tags", {}),
        )
    )

# Span QA (docs/data-formats.md): RAW is the task's folder of XTREME's download layout; English
# training data is SQuAD v1.1 from the sibling ``squad/`` folder (TyDiQA has its own). TyDiQA-GoldP
# files are multilingual (ids start with the language's name) and its dev set is XTREME's test set.
SQUAD_TRAIN = Source("train", "../squad/train-v1.1.json", "squad_json", {})
TYDIQA_DEV = "tydiqa-goldp-v1.1-dev/*.json"
QA_SOURCES = {
    "xquad": (
        SQUAD_TRAIN,
        Source("dev", "../squad/dev-v1.1.json", "squad_json", {}),
        Source("test", "xquad.{lang}.json", "squad_json", {}, lang="{lang}"),
    ),
    "mlqa": (
        SQUAD_TRAIN,
        *(
            Source(
                split,
                f"MLQA_V1/{split}/{split}-context-{{lang}}-question-{{lang}}.json",
                "squad_json",
                {},
                lang="{lang}",
            )
            for split in ("dev", "test")
        ),
    ),
    "tydiqa": (
        Source("train", "**/tydiqa-goldp-v1.1-train.json", "squad_json", {}, lang="from_id"),
        Source("dev", TYDIQA_DEV, "squad_json", {}, lang="from_id"),
        Source("test", TYDIQA_DEV, "squad_json", {}, lang="from_id"),
    ),
}

for _name, _desc, _langs in (
    ("xquad", "XQuAD; English train is SQuAD v1.1", "ar de el en es hi ru th tr vi zh"),
    ("mlqa", "MLQA; English train is SQuAD v1.1", "ar de en es hi vi zh"),
    (
        "tydiqa",
        "TyDiQA-GoldP; English train is the GoldP English part",
        "ar bn en fi id ko ru sw te",
    ),
):
    register_spec(
        TaskSpec(
            name=_name,
            xtreme_name=_name,
            family="span_qa",
            role="target",
            description=_desc,
            languages=tuple(_langs.split()),
            metrics=("f1", "exact_match"),
            scoring="mlqa" if _name == "mlqa" else "squad_v1",
            max_length=384,
            input_fields=("question", "context"),
            sources=QA_SOURCES[_name],
        )
    )

register_spec(
    TaskSpec(
        name="bucc",
        family="retrieval",
        role="target",
        xtreme_name="bucc2018",
        description="BUCC 2018 bitext mining against English (no training data)",
        languages=("de", "fr", "ru", "zh"),
        metrics=("bucc_f1",),
        scoring="bucc",
        max_length=512,
        input_fields=("sentence",),
        sources=tuple(
            Source(split, pattern.format(split=split), reader, columns, lang=lang)
            for split in ("dev", "test")
            for pattern, reader, columns, lang in (
                ("{{lang}}-en.{split}.{{lang}}", "id_tsv", ID_SENTENCE, "{lang}"),
                ("{{lang}}-en.{split}.en", "id_tsv", ID_SENTENCE, "en"),
                ("{{lang}}-en.{split}.gold", "id_tsv", GOLD_PAIR, "{lang}"),
            )
        ),
    )
)

register_spec(
    TaskSpec(
        name="tatoeba",
        xtreme_name="tatoeba",
        family="retrieval",
        role="target",
        description="Tatoeba sentence retrieval against English (no training data)",
        languages=TATOEBA_LANGS,
        metrics=("accuracy",),
        scoring="tatoeba",
        max_length=512,
        input_fields=("sentence",),
        sources=(
            Source("test", "{lang}-en.{lang}", "lines", {"sentence": 0}, lang="{lang}"),
            Source("test", "{lang}-en.en", "lines", {"sentence": 0}, lang="en"),
        ),
    )
)
