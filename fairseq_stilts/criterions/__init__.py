"""Criteria, one per task family. fairseq's --user-dir does not import this folder by itself."""

from fairseq_stilts.criterions import classification, multiple_choice, multitask, span_qa, tagging  # noqa: F401
