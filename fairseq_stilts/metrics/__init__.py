"""Scorers that reproduce the official XTREME evaluation rules, with no fairseq import.

``qa`` (SQuAD v1.1 and MLQA exact match / F1), ``tagging`` (seqeval F1, token accuracy) and
``retrieval`` (Tatoeba accuracy, BUCC mining F1). ``EVALUATE_MODULES`` is the folder of local
Hugging Face ``evaluate`` modules wrapping them; load one offline with
``evaluate.load(str(EVALUATE_MODULES / "stilts_squad"))``.
"""

from pathlib import Path

EVALUATE_MODULES = Path(__file__).resolve().parent / "evaluate_modules"
