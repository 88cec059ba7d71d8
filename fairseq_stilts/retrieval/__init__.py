"""Retrieval (BUCC, Tatoeba): sentence embeddings from any checkpoint's encoder, read and scored."""
