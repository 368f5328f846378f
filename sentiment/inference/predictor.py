"""Load a bundle once, then score texts: the one prediction path shared by the CLI, the service and the scorer."""
import json
import threading
import warnings

import gluonnlp as nlp
import mxnet as mx
import numpy as np

from ..model.relation import (
    EncoderRelationClassifier,
    LogitDecomposition,
    RelationAttentionClassifier,
    ServedEncoderGraph,
    ServedGraph,
)
from ..model.transformer import fuse_attention
from ..text.features import token_inputs
from ..text.tokenizer import Tokenizer
from ..text.wordpiece import WordPieceTokenizer
from . import bundle, documents
from .device import describe, resolve_device
from .inputs import PieceInputs, VocabularyInputs

# Padded pairs (B*T*T) per forward pass: bounds memory (the pair grid grows with T^2), and at 32k pairs
# (16 MB per H=128 tensor) the pair tensors stay in cache: bench/speed measured this fastest.
MAX_PAIRS = 1 << 15
# Passes of at most this many padded pairs run in fixed-shape graphs, one per shape (bench/speed: 16% less
# time for one sentence); each holds its buffers, about 3 MB at this size.
STATIC_PAIRS = 2048


class Predictor:
    """Scores raw texts exactly as training tokenized them.

    predict / predict_proba as in scikit-learn; explain adds tokens, truncation and the attention matrix.
    """

    def __init__(self, model, inputs, tokenizer, labels, ctx, version, config, metrics, max_pairs=MAX_PAIRS):
        """inputs: sentiment.inference.inputs.VocabularyInputs or PieceInputs, as the model's word encoder wants."""
        self.model, self.inputs, self.tokenizer, self.labels = model, inputs, tokenizer, list(labels)
        self.ctx, self.version, self.config, self.metrics = ctx, version, config, metrics
        self.max_pairs = max_pairs
        # Calibration: logits are divided by the temperature fitted on dev (1.0 for bundles without one).
        self.temperature = float(config.get("temperature", 1.0))
        self.vocab = getattr(inputs, "vocab", None)  # a GloVe model's word vocabulary
        # GraphForward(model, ctx) gives the same numbers as ServedForward, slower.
        self.forward = (EncoderForward(model, ctx, inputs.arrays([inputs.encode([inputs.unknown_word])]))
                        if is_encoder_model(config) else ServedForward(model, ctx))
        self._lock = threading.Lock()  # one forward pass at a time: CachedOp state is not thread-safe

    @classmethod
    def load(cls, path, device=None):
        """Verify and load a bundle; device is 'cpu', 'gpu', 'gpu:N' or None (GPU if present)."""
        ctx = resolve_device(device)
        loaded, tokenizer, inputs, model = load_model(path, ctx)
        config = loaded.config
        if is_encoder_model(config):
            fuse_attention(model.words.bert, ctx)  # answers only: the attention's weights interleaved once
        return cls(model, inputs, tokenizer, config["labels"], ctx, loaded.manifest["version"], config, loaded.metrics)

    @property
    def device(self):
        return describe(self.ctx)

    def tokenize(self, text):
        """(tokens, truncated) exactly as in training."""
        return self.tokenizer(text)

    def predict_proba(self, texts):
        """(N, C) class probabilities, columns in the order of `labels`."""
        return np.stack([r["probabilities_array"] for r in self._run(self._tokenize_all(texts), False)])

    def predict(self, texts):
        """Predicted label for each text."""
        return [self.labels[int(np.argmax(p))] for p in self.predict_proba(texts)]

    def predict_score(self, texts):
        """(N,) scores in [-1, 1]: p(positive) - p(negative), or the rating head's reading where the model has one."""
        return np.array([r["score"] for r in self.explain(texts, attention=False)], dtype=float)

    def explain(self, texts, attention=True, contributions=False):
        """One dict per text: label, probabilities, score, tokens, truncated, unknown_tokens and (optionally) attention.

        score is p(positive) - p(negative), in [-1, 1] (polarity_score); a model with a rating head
        reads it from the head instead (the raters' mean rating / 4, clipped to [-1, 1]).

        attention[i][j] weighs the pair (tokens[i], tokens[j]); the matrix sums to 1. unknown_tokens are
        the tokens the vocabulary does not hold (read as <unk>): many of them mean the text is unlike
        anything the model learned from (another language, say), whatever its confidence.

        contributions=True adds the exact signed share of each word pair in the log-odds of the label
        against the runner-up class: contributions[i][j] (oriented like attention) plus
        contribution_bias equal ln(p[label] / p[runner_up]).
        """
        return self.explain_tokenized(self._tokenize_all(texts), attention, contributions)

    def analyse(self, texts, attention=True, contributions=False, top_pairs=5):
        """One answer per text, read whole and sentence by sentence (sentiment.inference.documents.explain_plans).

        label is negative, neutral, positive or mixed; sentences holds each sentence's offsets, answer and
        weight in the verdict. top_pairs: pairs listed per sentence with contributions=True.
        """
        def plan(text):
            try:
                return documents.plan(text, self.tokenizer)
            except ValueError:
                return None

        plans = self._read_all(texts, plan)
        return documents.explain_plans(self.explain_tokenized, plans, self.labels, texts, attention, contributions,
                                       top_pairs)

    def explain_tokenized(self, tokenized, attention=True, contributions=False):
        """Like `explain`, for [(tokens, truncated), ...] from `tokenize` (each with at least one token)."""
        results = []
        for result in self._run(tokenized, attention, contributions):
            probs = result.pop("probabilities_array")
            result["label"] = self.labels[int(np.argmax(probs))]
            result["probabilities"] = {label: float(p) for label, p in zip(self.labels, probs)}
            result.setdefault("score", polarity_score(result["probabilities"]))
            results.append(result)
        return results

    def _tokenize_all(self, texts):
        def tokenize(text):
            tokens, truncated = self.tokenizer(text)
            return (tokens, truncated) if tokens else None

        return self._read_all(texts, tokenize)

    @staticmethod
    def _read_all(texts, read):
        """[read(text)] for a list of strings; read returns None for a text without words, which is an error."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single string")
        out = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{index}] must be a string, got {type(text).__name__}")
            item = read(text)
            if item is None:
                raise ValueError(f"texts[{index}] has no tokens (empty or whitespace-only text)")
            out.append(item)
        return out

    def _run(self, tokenized, attention, contributions=False):
        """Score in length-sorted chunks; results come back in input order."""
        results = [None] * len(tokenized)
        encoded = [self.inputs.encode(tokens) for tokens, _ in tokenized]
        for chunk in self.inputs.chunks(encoded, self.max_pairs):
            ids = [encoded[i] for i in chunk]
            arrays = self.inputs.arrays(ids)
            with self._lock:
                logits, att, shares, bias = self.forward(*arrays, contributions)
            classes = len(self.labels)
            rating = logits[:, classes] if self.model.rating_head else None
            probs = np.exp(log_softmax(logits[:, :classes] / self.temperature))
            if contributions:
                shares, bias = shares / self.temperature, bias / self.temperature
            for row, i in enumerate(chunk):
                toks, truncated = tokenized[i]
                n = len(toks)
                result = {"tokens": toks, "truncated": truncated, "probabilities_array": probs[row],
                          "unknown_tokens": self.inputs.unknown(toks, ids[row])}
                if rating is not None:  # the regression head's reading, clipped to [-1, 1]
                    result["score"] = float(np.clip(rating[row], -1.0, 1.0))
                if attention or contributions:
                    result["attention"] = np.ascontiguousarray(att[row, :n, :n])
                if contributions:
                    label, runner_up = np.argsort(-probs[row], kind="stable")[:2]
                    pair_shares = shares[row, :n, :n]
                    result["contributions"] = np.ascontiguousarray(pair_shares[:, :, label] - pair_shares[:, :, runner_up])
                    result["contribution_bias"] = float(bias[row, label] - bias[row, runner_up])
                    result["runner_up"] = self.labels[runner_up]
                results[i] = result
        return results


def polarity_score(probabilities):
    """p(positive) - p(negative) in [-1, 1]: how strongly, and which way; 0 for a sure neutral.

    A label set without "positive" or "negative" counts the missing one as 0; with neither, None.
    """
    if "positive" not in probabilities and "negative" not in probabilities:
        return None
    return float(probabilities.get("positive", 0.0) - probabilities.get("negative", 0.0))


def log_softmax(logits):
    """Row-wise log-softmax of a (B, C) numpy array."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class GraphForward:
    """A pass through the training graph itself: the per-token features computed in the graph.

    forward(tokens (B, T), mask (B, T), contributions) with NumPy arrays -> NumPy (logits (B, C),
    attention (B, T, T), contributions (B, T, T, C) or None, bias (B, C) or None); C counts a
    rating head's column. The reference ServedForward must agree with (tests/test_serving.py).
    """

    def __init__(self, model, ctx):
        self.model, self.ctx = model, ctx
        self.model.hybridize(static_alloc=True)
        self.decomposition = LogitDecomposition(model)  # same parameters, its own cached graph
        self.decomposition.hybridize(static_alloc=True)

    def __call__(self, tokens, mask, contributions):
        inputs = mx.nd.array(np.stack([tokens, mask]), ctx=self.ctx)
        if contributions:
            return tuple(a.asnumpy() for a in self.decomposition(inputs[0], inputs[1]))
        outputs = self.model(inputs[0], inputs[1])
        logits = outputs[0].asnumpy()
        if self.model.rating_head:
            logits = np.column_stack([logits, outputs[2].asnumpy()])
        return logits, outputs[1].asnumpy(), None, None


class ServedForward:
    """The serving pass (model.ServedGraph): per-token features from NumPy, one copy in, one copy out.

    Same call and answers as GraphForward. A pass of at most static_pairs padded pairs (a request's
    sentences, a micro-batch) runs in a fixed-shape graph kept for its shape, batch rounded up to a
    power of two, so it never re-plans memory; larger ones share one graph. Measured in bench/speed/model.py:
    static_pairs=0 turns fixed shapes off; backend="MKLDNN" (oneDNN fusion) did not help, and is off.
    """

    def __init__(self, model, ctx, static_pairs=STATIC_PAIRS, backend=None):
        self.model, self.ctx, self.static_pairs, self.backend = model, ctx, static_pairs, backend
        self.outputs = model.num_classes + model.rating_head
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

    def __call__(self, tokens, mask, contributions):
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
        return unpack(out, self.outputs, length, contributions)


def unpack(out, outputs, length, contributions):
    """A served graph's (B, N) output -> (logits (B, C), attention (B, T, T), shares (B, T, T, C) or None,
    bias (B, C) or None), C = outputs."""
    batch, c, pairs = out.shape[0], outputs, length * length
    if not contributions:
        return out[:, :c], out[:, c:c + pairs].reshape(batch, length, length), None, None
    attention = out[:, 2 * c:2 * c + pairs].reshape(batch, length, length)
    shares = out[:, 2 * c + pairs:].reshape(batch, length, length, c)
    return out[:, :c], attention, shares, out[:, c:2 * c]


class EncoderForward:
    """The serving pass of an encoder model (model.ServedEncoderGraph): same answers and layout as ServedForward.

    forward(pieces, valid, pool, packed, contributions) with sentiment.inference.inputs.PieceInputs' arrays.
    warm_up: such arrays for one short sentence: each graph is built with them at load, not at the first request.
    """

    def __init__(self, model, ctx, warm_up):
        self.model, self.ctx = model, ctx
        self.outputs = model.num_classes + model.rating_head
        self.graphs = {}
        for flag in (False, True):
            graph = ServedEncoderGraph(model, contributions=flag)
            graph.hybridize(static_alloc=True)
            self.graphs[flag] = graph
            self(*warm_up, flag)

    def __call__(self, pieces, valid, pool, packed, contributions):
        inputs = [mx.nd.array(a, ctx=self.ctx) for a in (pieces, valid, pool, packed)]
        out = self.graphs[contributions](*inputs).asnumpy()
        return unpack(out, self.outputs, pool.shape[1], contributions)


# Structure options a bundle may record; a bundle without them is the article's configuration.
ENCODER_OPTIONS = {"positions": 0, "attention_scale": None, "token_features": False, "negation": False,
                   "clauses": False}


def load_model(path, ctx):
    """A verified bundle, its tokenizer and inputs, and its model with the trained parameters on ctx, as
    training left it (Predictor.load then fuses an encoder's attention for serving)."""
    loaded = bundle.read(path, needs=needed_files)
    tokenizer, inputs, model = model_parts(loaded.config, loaded.files, loaded.vocab_json)
    model.load_parameters(loaded.weights, ctx=ctx)
    return loaded, tokenizer, inputs, model


def is_encoder_model(config):
    """Whether a bundle's word vectors come from a pretrained encoder (else from its GloVe vocabulary)."""
    return config["model"].get("encoder", "glove") != "glove"


def build_model(config, vocab_size=None):
    """A fresh, uninitialised classifier with the sizes and options recorded in `config`."""
    sizes = config["model"]
    options = {name: sizes.get(name, default) for name, default in ENCODER_OPTIONS.items()}
    common = dict(hidden_size=sizes["hidden_size"], classifier_size=sizes["classifier_size"],
                  dropout=sizes.get("dropout", 0.0), rating_head=sizes.get("rating_head", False), **options)
    if is_encoder_model(config):
        return EncoderRelationClassifier(sizes["encoder_sizes"], len(config["labels"]),
                                         encoder_dropout=sizes.get("encoder_dropout", 0.0),
                                         relation=sizes.get("relation", True), **common)
    return RelationAttentionClassifier(vocab_size, len(config["labels"]), embed_size=sizes["embed_size"], **common)


def model_parts(config, files, vocab_json=None):
    """(tokenizer, inputs, uninitialised model) for a bundle's config; files: {name: path} of its extra files."""
    if is_encoder_model(config):
        tokenizer = WordPieceTokenizer.from_dict(config["tokenizer"], files[PIECE_VOCAB])
        lexicon = read_json(files[LEXICON]) if config["model"].get("token_features") else None
        inputs = PieceInputs(tokenizer, lexicon, config["model"].get("clauses", False),
                             config["model"].get("word_pooling", "mean"))
        return tokenizer, inputs, build_model(config)
    vocab = nlp.Vocab.from_json(vocab_json)
    return Tokenizer.from_dict(config["tokenizer"]), VocabularyInputs(vocab), build_model(config, len(vocab))


# The extra files of an encoder model's bundle.
PIECE_VOCAB, LEXICON = "wordpiece_vocab.txt", "lexicon.json"


def needed_files(config):
    """The files a model needs in its bundle besides weights, config and metrics."""
    if not is_encoder_model(config):
        return ("vocab.json",)
    return (PIECE_VOCAB, LEXICON) if config["model"].get("token_features") else (PIECE_VOCAB,)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
