"""The retrieval family (BUCC, Tatoeba): no training data; stilts-retrieve embeds sentences with
any checkpoint's encoder and scores them."""

from fairseq_stilts.families.retrieval.retrievers import get_retriever
from fairseq_stilts.registry import Family, TaskSpec, register_family


def queries(spec: TaskSpec, text: str) -> int | None:
    """Tatoeba's file has a line per English query; BUCC's mined pairs are no count."""
    return len(text.splitlines()) if get_retriever(spec.name).counted else None


FAMILY = register_family(
    Family(
        name="retrieval",
        task="fairseq_stilts.families.retrieval.task:RetrievalTask",
        config="fairseq_stilts.families.retrieval.task:RetrievalConfig",
        criterion=None,
        prepare=None,
        metrics=("bucc_f1", "accuracy"),
        scored_by="stilts-retrieve",
        submission_count=queries,
    )
)
