"""Generate the tiny span-QA fixture data in the real on-disk layouts (docs/data-formats.md).

SQuAD v1.1/v2.0 (``squad/``, with XTREME's translate-train of v1.1 in de/es/fr), XQuAD (``xquad/``), MLQA (``mlqa/MLQA_V1/``) and TyDiQA-GoldP
(``tydiqa/``, multilingual files whose ids start with the language's name). A context says where
(and, in en/de/es/fr, when) a few people work; questions ask for the place or the time. Run
``python -m fairseq_stilts.tiny.make_qa_data``; each run rewrites the files byte-identically.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from fairseq_stilts.tiny.make_data import GENDER, OUT_DIR, PLACE_T, SEED, TIME_T

# fi and id places (TyDiQA's tiny languages), in PLACES' order.
EXTRA_PLACES = {
    "fi": ("keittiössä", "puutarhassa", "toimistossa", "autossa", "olohuoneessa", "kellarissa"),
    "id": (
        "di dapur",
        "di kebun",
        "di kantor",
        "di mobil",
        "di ruang tamu",
        "di ruang bawah tanah",
    ),
}
LANG_INDEX = {"en": 0, "de": 1, "es": 2, "fr": 3}
SENTENCE = {
    "en": "{n} works {place} {time}.",
    "de": "{n} arbeitet {time} {place}.",
    "es": "{n} trabaja {place} {time}.",
    "fr": "{n} travaille {place} {time}.",
    "fi": "{n} työskentelee {place}.",
    "id": "{n} bekerja {place}.",
}
WHERE = {
    "en": "Where does {n} work?",
    "de": "Wo arbeitet {n}?",
    "es": "¿Dónde trabaja {n}?",
    "fr": "Où travaille {n} ?",
    "fi": "Missä {n} työskentelee?",
    "id": "Di mana {n} bekerja?",
}
WHEN = {
    "en": "When does {n} work?",
    "de": "Wann arbeitet {n}?",
    "es": "¿Cuándo trabaja {n}?",
    "fr": "Quand travaille {n} ?",
}
TYDIQA_NAMES = {"en": "english", "fi": "finnish", "id": "indonesian"}


def place(lang: str, index: int) -> str:
    if lang in EXTRA_PLACES:
        return EXTRA_PLACES[lang][index]
    return PLACE_T[index][LANG_INDEX[lang]][0]


def time(lang: str, index: int) -> str:
    return TIME_T[index][LANG_INDEX[lang]][0]


def paragraph(rng: random.Random, lang: str, names: list[str], ids, impossible: bool) -> dict:
    """One context about 3-5 people and questions on it, with character offsets of answers."""
    people = rng.sample(names, rng.randint(3, 5))
    context, facts = "", []
    for name in people:
        p, t = rng.randrange(len(PLACE_T)), rng.randrange(len(TIME_T))
        sentence = SENTENCE[lang].format(
            n=name, place=place(lang, p), time=time(lang, t) if lang in WHEN else ""
        )
        sentence = " ".join(sentence.split()).replace(" .", ".")
        start = len(context) + (1 if context else 0)
        context = f"{context} {sentence}" if context else sentence
        facts.append(
            (name, place(lang, p), time(lang, t) if lang in WHEN else None, start, sentence)
        )
    qas = []
    for name, where, when, start, sentence in rng.sample(facts, min(3, len(facts))):
        asks_time = when is not None and rng.random() < 0.4
        answer = when if asks_time else where
        offset = start + sentence.index(answer)
        answers = [{"text": answer, "answer_start": offset}]
        if lang == "en" and answer.startswith("in the "):  # a second, shorter gold answer
            answers.append({"text": answer[3:], "answer_start": offset + 3})
        question = (WHEN if asks_time else WHERE)[lang].format(n=name)
        qas.append({"id": next(ids), "question": question, "answers": answers})
    if impossible:
        absent = rng.choice([n for n in names if n not in people])
        qas.append(
            {
                "id": next(ids),
                "question": WHERE[lang].format(n=absent),
                "answers": [],
                "is_impossible": True,
            }
        )
    return {"context": context, "qas": qas}


def document(
    rng: random.Random,
    langs_counts: list[tuple[str, int]],
    names: list[str],
    id_of,
    impossible=False,
) -> dict:
    """A SQuAD-format document with ``count`` paragraphs in each language."""
    data = []
    for lang, count in langs_counts:
        ids = (id_of(lang, i) for i in range(10_000))
        paragraphs = [paragraph(rng, lang, names, ids, impossible) for _ in range(count)]
        data.append({"title": f"work-{lang}", "paragraphs": paragraphs})
    return {"version": "2.0" if impossible else "1.1", "data": data}


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_translate_train(state: tuple, count: int, names: list[str]) -> None:
    """XTREME's translate-train of SQuAD v1.1 train in de, es and fr: the same draws as the
    English file (``state``: its generator's state before it), so the same facts and questions."""
    for lang in ("de", "es", "fr"):
        rng = random.Random()
        rng.setstate(state)
        doc = document(rng, [(lang, count)], names, lambda lang, i: f"train-{i}")
        write_json(OUT_DIR / f"squad/translate-train/squad.translate.train.en-{lang}.json", doc)


def main() -> None:
    """Write every span-QA fixture file under ``OUT_DIR``."""
    names = list(GENDER)
    train, dev, test = names[:12], names[12:18], names[18:]
    rng = random.Random(SEED + 70)
    for version, impossible in (("1.1", False), ("2.0", True)):
        for split, split_names, count in (("train", train, 40), ("dev", dev, 10)):
            state = rng.getstate()
            doc = document(
                rng, [("en", count)], split_names, lambda lang, i, s=split: f"{s}-{i}", impossible
            )
            write_json(OUT_DIR / f"squad/{split}-v{version}.json", doc)
            if (split, version) == ("train", "1.1"):
                write_translate_train(state, count, split_names)
    for lang in ("en", "de", "es"):
        doc = document(rng, [(lang, 8)], test, lambda lang, i: f"xquad-{lang}-{i}")
        write_json(OUT_DIR / f"xquad/xquad.{lang}.json", doc)
        for split, split_names in (("dev", dev), ("test", test)):
            doc = document(
                rng, [(lang, 6)], split_names, lambda lang, i, s=split: f"mlqa-{s}-{lang}-{i}"
            )
            write_json(
                OUT_DIR / f"mlqa/MLQA_V1/{split}/{split}-context-{lang}-question-{lang}.json", doc
            )
    tydiqa_id = lambda lang, i: f"{TYDIQA_NAMES[lang]}-{i}"  # noqa: E731
    doc = document(rng, [("en", 30), ("fi", 6), ("id", 6)], train, tydiqa_id)
    write_json(OUT_DIR / "tydiqa/tydiqa-goldp-v1.1-train/tydiqa-goldp-v1.1-train.json", doc)
    for lang, language in TYDIQA_NAMES.items():
        doc = document(rng, [(lang, 6)], test, tydiqa_id)
        write_json(OUT_DIR / f"tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{language}.json", doc)


if __name__ == "__main__":
    main()
