"""Token ids -> padded (tokens, mask) arrays, with lengths rounded up to a few bucket sizes.

Rounding keeps the number of distinct shapes small, so a hybridized model with
static shapes re-plans rarely; masking makes the padding invisible to the answer.
"""
import numpy as np

BUCKET = 8


def padded_length(length, bucket=BUCKET):
    return max(bucket, -(-length // bucket) * bucket)


def pad_batch(id_lists, pad_id, length=None):
    """(tokens (B, T) float32 ids, mask (B, T) float32) with T = `length` or the bucketed longest."""
    length = length or padded_length(max(len(ids) for ids in id_lists))
    tokens = np.full((len(id_lists), length), pad_id, dtype=np.float32)
    mask = np.zeros((len(id_lists), length), dtype=np.float32)
    for row, ids in enumerate(id_lists):
        tokens[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return tokens, mask


def length_chunks(lengths, max_pairs, power=2):
    """Split indices, sorted by length, into chunks whose padded B*T*T stays under `max_pairs`.

    Bounds the memory of the pair grid, which grows with T squared. power=1 bounds B*T instead
    (an encoder's pieces: a pass costs about its padded pieces).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    chunk, chunks = [], []
    for index in order:
        t = padded_length(max(lengths[index], 1))
        if chunk and (len(chunk) + 1) * t ** power > max_pairs:
            chunks.append(chunk)
            chunk = []
        chunk.append(index)
    if chunk:
        chunks.append(chunk)
    return chunks
