"""Corpora: fetching, verifying and reading data sets, embeddings and pretrained weights."""
