"""QA scoring: SQuAD v1.1 and MLQA v1 rules, checked against hand-computed numbers.

F1 of one pair is 2PR/(P+R) with P = shared/len(prediction), R = shared/len(gold); the comments
show each computation.
"""

from __future__ import annotations

import pytest

from fairseq_stilts.metrics import EVALUATE_MODULES
from fairseq_stilts.metrics.qa import (
    MLQA_LANGUAGES,
    QASums,
    mlqa_scores,
    normalize_mlqa,
    normalize_squad,
    qa_sums,
    question_scores,
    squad_scores,
)

approx = pytest.approx


# --- SQuAD v1.1 rules (also XQuAD and TyDiQA-GoldP) ---------------------------------------------


def test_squad_normalisation_drops_ascii_punctuation_articles_and_extra_spaces():
    # "the  eiffel-tower!" -> punctuation out: "the  eiffeltower" -> "the" out -> "eiffeltower"
    assert normalize_squad("The  Eiffel-Tower!") == "eiffeltower"
    # articles only as whole words: "theatre" and "anthem" stay
    assert normalize_squad("Theatre, an anthem: a\tsong") == "theatre anthem song"


def test_squad_keeps_non_ascii_punctuation():
    assert normalize_squad("«París»") == "«parís»"
    assert normalize_squad("¿Qué?") == "¿qué"
    assert normalize_squad("北京。") == "北京。"
    # so «París» and París share no token: EM 0, F1 0
    assert question_scores("«París»", ["París"]) == (0.0, 0.0)


def test_squad_partial_overlap():
    # pred "eiffel tower in paris" (4 tokens), gold "eiffel tower" (2): shared 2
    # P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    em, f1 = question_scores("the Eiffel Tower in Paris", ["Eiffel Tower"])
    assert em == 0.0
    assert f1 == approx(2 / 3)


def test_squad_takes_the_best_gold_answer_for_each_score():
    # pred "paris france" vs "paris": P = 1/2, R = 1/1 -> F1 = 2/3
    # pred "paris france" vs "in paris france": P = 2/2, R = 2/3 -> F1 = 2*(2/3)/(5/3) = 4/5
    em, f1 = question_scores("Paris France", ["Paris", "in Paris, France"])
    assert (em, f1) == (0.0, approx(0.8))
    # EM and F1 maximised separately: EM from the 3rd answer, F1 = 1 from it too
    em, f1 = question_scores("Paris France", ["Paris", "in Paris, France", "Paris, France."])
    assert (em, f1) == (1.0, 1.0)


def test_empty_prediction_scores_zero():
    assert question_scores("", ["Paris"]) == (0.0, 0.0)
    assert question_scores("", ["Paris"], "en") == (0.0, 0.0)


def test_both_empty_after_normalisation_is_exact_match_without_f1():
    # "the" and "a." both normalise to "": strings equal -> EM 1; no shared token -> F1 0
    assert question_scores("the", ["a."]) == (1.0, 0.0)
    assert question_scores("", ["!!"]) == (1.0, 0.0)
    # MLQA (ar): "ال" -> "" and "،" -> ""
    assert question_scores("ال", ["،"], "ar") == (1.0, 0.0)
    assert squad_scores({"q": ""}, {"q": ["The"]}) == {
        "exact_match": 100.0,
        "f1": 0.0,
        "count": 1,
        "missing": 0,
    }


def test_squad_treats_unsegmented_chinese_and_thai_as_one_token():
    # "北京大学" and "北京" are single, different tokens under SQuAD rules
    assert question_scores("北京大学", ["北京"]) == (0.0, 0.0)
    assert question_scores("北京大学", ["北京大学"]) == (1.0, 1.0)
    # a space changes the tokens: "北京 大学" != "北京大学"
    assert question_scores("北京 大学", ["北京大学"]) == (0.0, 0.0)
    assert question_scores("กรุงเทพมหานคร", ["กรุงเทพ"]) == (0.0, 0.0)
    # "เมือง กรุงเทพ" (2 tokens) vs "กรุงเทพ" (1): P = 1/2, R = 1 -> F1 = 2/3
    assert question_scores("เมือง กรุงเทพ", ["กรุงเทพ"]) == (0.0, approx(2 / 3))


def test_squad_corpus_scores_count_missing_predictions_as_zero():
    references = {"q1": ["Eiffel Tower"], "q2": ["Paris"], "q3": ["1889"], "q4": ["Gustave"]}
    predictions = {"q1": "the Eiffel Tower", "q2": "Paris France", "q3": "in 1889", "q9": "x"}
    # q1: EM 1, F1 1; q2: "paris france" vs "paris": EM 0, F1 2/3;
    # q3: "in 1889" vs "1889": EM 0, F1 2/3; q4: missing -> 0, 0; q9 is not a reference: ignored
    # EM = 100 * 1/4 = 25; F1 = 100 * (1 + 2/3 + 2/3 + 0) / 4 = 100 * (7/3) / 4 = 58.333...
    scores = squad_scores(predictions, references)
    assert scores == {"exact_match": 25.0, "f1": approx(700 / 12), "count": 4, "missing": 1}


def test_sums_of_batches_give_the_corpus_scores():
    references = {"q1": ["Eiffel Tower"], "q2": ["Paris"], "q3": ["1889"], "q4": ["Gustave"]}
    predictions = {"q1": "the Eiffel Tower", "q2": "Paris France", "q3": "in 1889"}
    first = qa_sums(predictions, {k: references[k] for k in ("q1", "q2")})
    second = qa_sums(predictions, {k: references[k] for k in ("q3", "q4")})
    # batch 1: EM 1 + 0, F1 1 + 2/3; batch 2: EM 0 + 0, F1 2/3 + 0, one missing
    assert first == QASums(exact_match=1.0, f1=approx(5 / 3), count=2, missing=0)
    assert second == QASums(exact_match=0.0, f1=approx(2 / 3), count=2, missing=1)
    total = (first + second).scores()
    assert total == {"exact_match": 25.0, "f1": approx(700 / 12), "count": 4, "missing": 1}


def test_a_question_without_gold_answers_is_named():
    with pytest.raises(ValueError, match="'q7' has no gold answers"):
        squad_scores({"q7": "x"}, {"q7": []})
    with pytest.raises(ValueError, match="no questions"):
        squad_scores({}, {})


# --- MLQA v1 rules ------------------------------------------------------------------------------


def test_mlqa_needs_a_known_language():
    assert MLQA_LANGUAGES == ("ar", "de", "en", "es", "hi", "vi", "zh")
    with pytest.raises(ValueError, match="'fr'; supported: ar, de, en, es, hi, vi, zh"):
        mlqa_scores({"q": "x"}, {"q": ["x"]}, "fr")
    with pytest.raises(ValueError, match="'th'"):
        normalize_mlqa("x", "th")
    with pytest.raises(ValueError, match="'EN'"):
        question_scores("x", ["x"], "EN")


def test_mlqa_removes_unicode_punctuation_and_ascii_symbols():
    # « » are Pi/Pf, ¿ is Po: removed, then the article "the"
    assert normalize_mlqa("«The Louvre»", "en") == "louvre"
    # $ and + are ASCII symbols (Sc, Sm) in string.punctuation: removed; € (Sc, not ASCII) stays
    assert normalize_mlqa("$5 + 3€", "en") == "5 3€"
    # under MLQA «París» and París match, unlike under SQuAD
    assert question_scores("«París»", ["París"], "es") == (1.0, 1.0)


def test_mlqa_spanish_articles():
    # "¿dónde está el prado?" -> "dónde está el prado" -> "el" out
    assert normalize_mlqa("¿Dónde está El Prado?", "es") == "dónde está prado"
    # "reyes católicos" (2) vs "reyes católicos de españa" (4; "de" is no article): shared 2
    # P = 2/2, R = 2/4 -> F1 = 2 * 1 * 0.5 / 1.5 = 2/3
    em, f1 = question_scores("los Reyes Católicos", ["Reyes Católicos de España"], "es")
    assert (em, f1) == (0.0, approx(2 / 3))


def test_mlqa_german_articles_are_whole_words():
    assert normalize_mlqa("Der Kölner Dom, einem Bau.", "de") == "kölner dom bau"
    assert normalize_mlqa("das Haus dasselbe", "de") == "haus dasselbe"
    # English articles are not German ones
    assert normalize_mlqa("the Dom", "de") == "the dom"


def test_mlqa_vietnamese_articles():
    assert normalize_mlqa("Thủ đô của Việt Nam là Hà Nội", "vi") == "thủ đô việt nam hà nội"
    assert normalize_mlqa("Những cái bàn", "vi") == "bàn"
    # pred "hà nội" vs gold "thủ đô hà nội": P = 2/2, R = 2/4 -> F1 = 2/3
    assert question_scores("là Hà Nội", ["thủ đô của Hà Nội"], "vi") == (0.0, approx(2 / 3))


def test_mlqa_arabic_article_is_removed_everywhere_even_inside_words():
    assert normalize_mlqa("الكتاب", "ar") == "كتاب"
    # "مالك" = م ا ل ك: the "ال" inside is replaced by a space, splitting the word in two
    assert normalize_mlqa("مالك", "ar") == "م ك"
    # the Arabic comma ، (Po) goes before the article is removed
    assert normalize_mlqa("القاهرة، مصر", "ar") == "قاهرة مصر"
    assert question_scores("كتاب", ["الكتاب"], "ar") == (1.0, 1.0)
    assert question_scores("كتاب", ["الكتاب"]) == (0.0, 0.0)  # SQuAD rules keep "ال"
    # pred [م, ك] vs gold "م ك بن نبي" [م, ك, بن, نبي]: P = 2/2, R = 2/4 -> F1 = 2/3
    assert question_scores("مالك؟", ["مالك بن نبي"], "ar") == (0.0, approx(2 / 3))


def test_mlqa_hindi_has_no_articles():
    # the danda । (Po) is removed; "the" and "a" stay for hi
    assert normalize_mlqa("The नई दिल्ली।", "hi") == "the नई दिल्ली"
    assert normalize_mlqa("a", "hi") == "a"


def test_mlqa_chinese_is_scored_per_character():
    # 。 (Po) removed, then each CJK character is a token
    assert normalize_mlqa("北京大学。", "zh") == "北 京 大 学"
    assert normalize_mlqa("iPhone 11手机", "zh") == "iphone 11 手 机"
    # only U+4E00..U+9FA5 are split: U+9FA5 is, U+9FA6 and U+3400 (extension A) are not
    assert normalize_mlqa("\u9fa5\u9fa5", "zh") == "\u9fa5 \u9fa5"
    assert normalize_mlqa("\u9fa6\u9fa6\u3400", "zh") == "\u9fa6\u9fa6\u3400"
    # no articles for zh
    assert normalize_mlqa("the 书", "zh") == "the 书"
    # spaces do not matter for CJK characters
    assert question_scores("北京 大学", ["北京大学"], "zh") == (1.0, 1.0)
    # 北 京 大 学 (4) vs 北 京 (2): P = 2/4, R = 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert question_scores("北京大学", ["北京"], "zh") == (0.0, approx(2 / 3))
    # 位 于 北 京 vs 北 京 大 学: shared 2, P = R = 2/4 -> F1 = 0.5
    assert question_scores("位于北京", ["北京大学"], "zh") == (0.0, 0.5)


def test_mlqa_corpus_scores():
    references = {"a": ["北京"], "b": ["上海市", "上海"], "c": ["长江"]}
    predictions = {"a": "北京大学", "b": "上海", "c": "黄河"}
    # a: EM 0, F1 2/3 (above); b: EM 1 against "上海", F1 1;
    # c: 黄 河 vs 长 江 share nothing: 0, 0
    # EM = 100 * 1/3; F1 = 100 * (2/3 + 1 + 0) / 3 = 100 * 5/9 = 55.555...
    scores = mlqa_scores(predictions, references, "zh")
    assert scores == {
        "exact_match": approx(100 / 3),
        "f1": approx(500 / 9),
        "count": 3,
        "missing": 0,
    }
    # the same answers under SQuAD rules: b still matches exactly, a and c share no token
    # EM = 100/3, F1 = 100 * (0 + 1 + 0) / 3
    assert squad_scores(predictions, references) == {
        "exact_match": approx(100 / 3),
        "f1": approx(100 / 3),
        "count": 3,
        "missing": 0,
    }


# --- evaluate modules ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluate_modules():
    """The local evaluate module, loaded from its folder (no network involved)."""
    evaluate = pytest.importorskip("evaluate")
    return {
        name: evaluate.load(str(EVALUATE_MODULES / name), keep_in_memory=True)
        for name in ("stilts_squad",)
    }


def test_stilts_squad_module_gives_the_function_numbers(evaluate_modules):
    predictions = ["the Eiffel Tower", "Paris France", "in 1889", ""]
    references = [["Eiffel Tower"], ["Paris"], ["1889"], ["The"]]
    # EM: 1, 0, 0, 1 (both empty) -> 50; F1: 1, 2/3, 2/3, 0 -> 100 * (7/3) / 4 = 58.333...
    result = evaluate_modules["stilts_squad"].compute(
        predictions=predictions, references=references
    )
    assert result == {"exact_match": 50.0, "f1": approx(700 / 12), "count": 4, "missing": 0}
    ids = [str(i) for i in range(4)]
    assert result == squad_scores(
        dict(zip(ids, predictions, strict=True)), dict(zip(ids, references, strict=True))
    )


def test_stilts_squad_module_with_a_language_gives_the_mlqa_numbers(evaluate_modules):
    mlqa = evaluate_modules["stilts_squad"]
    predictions = ["北京大学", "上海", "黄河"]
    references = [["北京"], ["上海市", "上海"], ["长江"]]
    result = mlqa.compute(predictions=predictions, references=references, lang="zh")
    assert result == {
        "exact_match": approx(100 / 3),
        "f1": approx(500 / 9),
        "count": 3,
        "missing": 0,
    }
    ids = ["a", "b", "c"]
    assert result == mlqa_scores(
        dict(zip(ids, predictions, strict=True)), dict(zip(ids, references, strict=True)), "zh"
    )
    # Arabic: "مالك" vs "مالك بن نبي": EM 0, F1 2/3 -> 66.666...
    result = mlqa.compute(predictions=["مالك"], references=[["مالك بن نبي"]], lang="ar")
    assert result == {"exact_match": 0.0, "f1": approx(200 / 3), "count": 1, "missing": 0}
    with pytest.raises(ValueError, match="supported: ar, de"):
        mlqa.compute(predictions=["x"], references=[["x"]], lang="fr")
