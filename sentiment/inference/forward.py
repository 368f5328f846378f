"""Forward passes: a batch of model inputs in, NumPy out (logits, attention, contributions and their bias).

The kinds (sentiment.inference.kinds) choose one: ServedForward for a GloVe model, EncoderForward for an
encoder model. GraphForward runs the training graph itself and is the reference both must agree with.
"""
import warnings
from typing import NamedTuple, Optional

import mxnet as mx
import numpy as np

from ..model.decomposition import LogitDecomposition, ServedEncoderGraph, ServedGraph
from ..text.features import token_inputs

# Passes of at most this many padded pairs run in fixed-shape graphs, one per shape (bench/speed: 16% less
# time for one sentence); each holds its buffers, about 3 MB at this size.
STATIC_PAIRS = 2048


class GraphForward:
    """A pass through the training graph itself: the per-token features computed in the graph.

    forward(tokens (B, T), mask (B, T), contributions) with NumPy arrays -> Pass (its sentence vectors None).
    The reference ServedForward must agree with (tests/test_serving.py).
    """

    def __init__(self, model, ctx):
        self.model, self.ctx = model, ctx
        self.model.hybridize(static_alloc=True)
        self.decomposition = LogitDecomposition(model)  # same parameters, its own cached graph
        self.decomposition.hybridize(static_alloc=True)

    def __call__(self, tokens, mask, contributions, words=False):
        no_words(words)
        inputs = mx.nd.array(np.stack([tokens, mask]), ctx=self.ctx)
        if contributions:
            logits, attention, shares, bias = (a.asnumpy() for a in self.decomposition(inputs[0], inputs[1]))
            return Pass(logits, attention, shares, bias)
        outputs = self.model(inputs[0], inputs[1])
        logits = outputs[0].asnumpy()
        if self.model.rating_head:
            logits = np.column_stack([logits, outputs[2].asnumpy()])
        return Pass(logits, outputs[1].asnumpy())


class ServedForward:
    """The serving pass (model.ServedGraph): per-token features from NumPy, one copy in, one copy out.

    Same call and answers as GraphForward. A pass of at most static_pairs padded pairs (a request's
    sentences, a micro-batch) runs in a fixed-shape graph kept for its shape, batch rounded up to a
    power of two, so it never re-plans memory; larger ones share one graph. Measured in bench/speed/model.py:
    static_pairs=0 turns fixed shapes off; backend="MKLDNN" (oneDNN fusion) did not help, and is off.
    """

    def __init__(self, model, ctx, static_pairs=STATIC_PAIRS, backend=None):
        self.model, self.ctx, self.static_pairs, self.backend = model, ctx, static_pairs, backend
        self.outputs, self.hidden = model.num_classes + model.rating_head, model.encoder.pair_out._units
        encoder = model.encoder
        self.table = encoder.token_table.weight.data().asnumpy() if encoder.token_features else None
        self.clauses = encoder.clauses
        self.graphs = {}
        for flag in (False, True):  # one short sentence's graphs, built at load rather than at the first request
            self(np.zeros((1, 8), np.float32), np.ones((1, 8), np.float32), flag)

    def pack(self, tokens, mask):
        """(B, T, 2 + K) float32: ids, mask and the per-token features."""
        columns = [tokens[..., None], mask[..., None]]
        if self.table is not None:
            columns.append(token_inputs(tokens.astype(np.int64), self.table, self.clauses))
        return np.concatenate(columns, axis=2)

    def graph(self, contributions, packed, static):
        key = (contributions,) + (packed.shape[:2] if static else ())
        if key not in self.graphs:
            graph = ServedGraph(self.model, contributions=contributions)
            with warnings.catch_warnings():  # the token table is used outside the graph: MXNet would say so
                warnings.filterwarnings("ignore", message="Parameter .* is not used by any computation")
                if self.backend:
                    graph.optimize_for(packed, backend=self.backend, static_alloc=True, static_shape=static)
                else:
                    graph.hybridize(static_alloc=True, static_shape=static)
                graph(packed)
            self.graphs[key] = graph
        return self.graphs[key]

    def __call__(self, tokens, mask, contributions, words=False):
        no_words(words)
        batch, length = tokens.shape
        packed = self.pack(tokens, mask)
        rows = 1 << (batch - 1).bit_length()
        static = rows * length * length <= self.static_pairs
        if static and rows > batch:  # padded rows hold one padding token, so that their softmax stays finite
            filler = np.zeros((rows - batch, length, packed.shape[2]), np.float32)
            filler[:, 0, 1] = 1
            packed = np.concatenate([packed, filler])
        # On the CPU MXNet reads the NumPy buffer itself (it stays alive until asnumpy returns).
        inputs = (mx.nd.from_numpy(np.ascontiguousarray(packed), zero_copy=True) if self.ctx == mx.cpu()
                  else mx.nd.array(packed, ctx=self.ctx))
        out = self.graph(contributions, inputs, static)(inputs).asnumpy()[:batch]
        return unpack(out, self.outputs, self.hidden, length, contributions)


def no_words(words):
    if words:
        raise ValueError("a model with its own embedding has no encoder states for other heads to read")


class Pass(NamedTuple):
    """One forward pass in NumPy. logits (B, C), C counting a rating head's column; attention (B, T, T); with
    contributions, shares (B, T, T, C) and bias (B, C); sentence (B, H), the pooled vectors, and with contributions
    pair_vectors (B, T, T, H), A_ij g(i, j), from the served passes (None from GraphForward); words (B, T, E), the
    encoder's word vectors, when asked of an encoder model's pass."""
    logits: np.ndarray
    attention: np.ndarray
    shares: Optional[np.ndarray] = None
    bias: Optional[np.ndarray] = None
    sentence: Optional[np.ndarray] = None
    pair_vectors: Optional[np.ndarray] = None
    words: Optional[np.ndarray] = None


def unpack(out, outputs, hidden, length, contributions):
    """A served graph's (B, N) output (model.decomposition.served_outputs) -> Pass; outputs = C, hidden = H."""
    batch, c, h, pairs = out.shape[0], outputs, hidden, length * length
    if not contributions:
        return Pass(out[:, :c], out[:, c + h:c + h + pairs].reshape(batch, length, length),
                    sentence=out[:, c:c + h])
    at = 2 * c + h
    attention = out[:, at:at + pairs].reshape(batch, length, length)
    shares = out[:, at + pairs:at + pairs + pairs * c].reshape(batch, length, length, c)
    pair_vectors = out[:, at + pairs + pairs * c:].reshape(batch, length, length, h)
    return Pass(out[:, :c], attention, shares, out[:, c:2 * c], out[:, 2 * c:at], pair_vectors)


class EncoderForward:
    """The serving pass of an encoder model (model.ServedEncoderGraph): same answers and layout as ServedForward.

    forward(pieces, valid, pool, packed, contributions, words=False) with sentiment.inference.inputs.PieceInputs'
    arrays; words=True also returns the encoder's word vectors (B, T, E) in Pass.words, from the same pass.
    warm_up: such arrays for one short sentence: each graph is built with them at load, not at the first request.
    """

    def __init__(self, model, ctx, warm_up):
        self.model, self.ctx = model, ctx
        self.outputs, self.hidden = model.num_classes + model.rating_head, model.encoder.pair_out._units
        self.graphs = {}
        for flag in (False, True):
            self(*warm_up, flag)

    def graph(self, contributions, words):
        if (contributions, words) not in self.graphs:
            graph = ServedEncoderGraph(self.model, contributions=contributions, words=words)
            graph.hybridize(static_alloc=True)
            self.graphs[contributions, words] = graph
        return self.graphs[contributions, words]

    def __call__(self, pieces, valid, pool, packed, contributions, words=False):
        inputs = [mx.nd.array(a, ctx=self.ctx) for a in (pieces, valid, pool, packed)]
        out = self.graph(contributions, words)(*inputs).asnumpy()
        length = pool.shape[1]
        if not words:
            return unpack(out, self.outputs, self.hidden, length, contributions)
        size = length * self.model.words.units
        vectors = out[:, out.shape[1] - size:].reshape(out.shape[0], length, -1)
        return unpack(out[:, :out.shape[1] - size], self.outputs, self.hidden, length, contributions)._replace(
            words=vectors)
