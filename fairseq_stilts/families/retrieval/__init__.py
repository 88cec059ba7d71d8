"""The retrieval family (BUCC, Tatoeba): no training data; stilts-retrieve embeds sentences with
any checkpoint's encoder and scores them."""

from fairseq_stilts.registry import Family, register_family


def no_count(text: str) -> None:
    """BUCC's mined pairs are no count of examples (and Tatoeba's are one per query, by
    construction)."""


FAMILY = register_family(
    Family(
        name="retrieval",
        task="fairseq_stilts.families.retrieval.task:RetrievalTask",
        config="fairseq_stilts.families.retrieval.task:RetrievalConfig",
        criterion=None,
        prepare=None,
        metrics=("bucc_f1", "accuracy"),
        scored_by="stilts-retrieve",
        submission_count=no_count,
    )
)
