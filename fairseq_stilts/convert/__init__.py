"""Conversion between our fairseq XLM-R checkpoints and local Hugging Face ``transformers`` folders."""
