"""The pretrained encoder (all-MiniLM-L6-v2, a 6-layer BERT) in Gluon, and the word vectors made from it.

The encoder is gluonnlp 0.10's BERTModel (no pooler, no decoder) with the sizes of the published
config. Its weights come from model.safetensors through the safetensors package's NumPy API,
each tensor by a direct name map and no transpose (both store Dense weights as (out, in));
`load_safetensors` asserts that every parameter is filled and every tensor used.
bench/reference/encoder_reference.py checks the port against the reference implementation.

For serving, `fuse_attention` gives each layer one query-key-value weight interleaved once, where
gluonnlp's cell concatenates the three on every call (bench/README.md: 1.3x the sentences/s at batch 1),
and masks padding with an additive bias, where the cell's softmax with lengths runs without oneDNN.
For training, `gemm_layer_norms` gives every LayerNorm a backward pass made of matrix products, where
MXNet's own spends 11 ms a call on the CPU (bench/README.md: a training step 1.08x and 1.15x faster in
two runs of three).

PieceWords is the seam where the encoder meets the relation network: pieces in, one vector per
word out (the mean of the word's pieces' last hidden states, or its first piece's).
"""
import json

import mxnet as mx
import numpy as np
from gluonnlp.model import BERTEncoder, BERTModel
from mxnet.gluon import HybridBlock

# The published config.json of all-MiniLM-L6-v2, in gluonnlp's terms.
MINILM = {"num_layers": 6, "units": 384, "hidden_size": 1536, "num_heads": 12, "max_length": 512,
          "vocab_size": 30522, "token_types": 2, "layer_norm_eps": 1e-12}


def config_from_file(path):
    """The sizes of a BERT config.json (hidden_act must be erf GELU, as gluonnlp's 'gelu' is)."""
    c = json.loads(open(path, encoding="utf-8").read())
    if c.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{path}: hidden_act {c['hidden_act']!r}, expected 'gelu'")
    return {"num_layers": c["num_hidden_layers"], "units": c["hidden_size"], "hidden_size": c["intermediate_size"],
            "num_heads": c["num_attention_heads"], "max_length": c["max_position_embeddings"],
            "vocab_size": c["vocab_size"], "token_types": c["type_vocab_size"],
            "layer_norm_eps": c["layer_norm_eps"]}


def build_bert(sizes, dropout=0.0):
    """An uninitialised gluonnlp BERTModel: forward(pieces (B, P), types (B, P), valid (B,)) -> states (B, P, U)."""
    encoder = BERTEncoder(num_layers=sizes["num_layers"], units=sizes["units"], hidden_size=sizes["hidden_size"],
                          num_heads=sizes["num_heads"], max_length=sizes["max_length"], dropout=dropout,
                          layer_norm_eps=sizes["layer_norm_eps"], activation="gelu", output_attention=False,
                          output_all_encodings=False)
    return BERTModel(encoder, vocab_size=sizes["vocab_size"], token_type_vocab_size=sizes["token_types"],
                     units=sizes["units"], embed_size=sizes["units"], use_pooler=False,
                     use_decoder=False, use_classifier=False)


def safetensors_names(num_layers):
    """{gluonnlp parameter name (structural, as save_parameters writes it): safetensors tensor name}."""
    names = {"word_embed.0.weight": "embeddings.word_embeddings.weight",
             "token_type_embed.0.weight": "embeddings.token_type_embeddings.weight",
             "encoder.position_weight": "embeddings.position_embeddings.weight",
             "encoder.layer_norm.gamma": "embeddings.LayerNorm.weight",
             "encoder.layer_norm.beta": "embeddings.LayerNorm.bias"}
    for i in range(num_layers):
        ours, theirs = f"encoder.transformer_cells.{i}.", f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            for kind in ("weight", "bias"):
                names[f"{ours}attention_cell.proj_{part}.{kind}"] = f"{theirs}attention.self.{part}.{kind}"
        for kind in ("weight", "bias"):
            names[f"{ours}proj.{kind}"] = f"{theirs}attention.output.dense.{kind}"
            names[f"{ours}ffn.ffn_1.{kind}"] = f"{theirs}intermediate.dense.{kind}"
            names[f"{ours}ffn.ffn_2.{kind}"] = f"{theirs}output.dense.{kind}"
        for ours_kind, theirs_kind in (("gamma", "weight"), ("beta", "bias")):
            names[f"{ours}layer_norm.{ours_kind}"] = f"{theirs}attention.output.LayerNorm.{theirs_kind}"
            names[f"{ours}ffn.layer_norm.{ours_kind}"] = f"{theirs}output.LayerNorm.{theirs_kind}"
    return names


def load_safetensors(bert, path, num_layers, ctx=mx.cpu()):
    """Fill every parameter of `bert` from a safetensors file; only the pooler's tensors (unused here) and the
    position-id buffer (0, 1, 2 ...: gluonnlp counts positions itself) are left."""
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    params = bert._collect_params_with_prefix()
    names = safetensors_names(num_layers)
    if set(params) != set(names):
        raise ValueError(f"parameters without a tensor: {sorted(set(params) - set(names))}; "
                         f"names without a parameter: {sorted(set(names) - set(params))}")
    unused = set(tensors) - set(names.values()) - {"embeddings.position_ids"}
    if "embeddings.position_ids" in tensors and not np.array_equal(
            tensors["embeddings.position_ids"].reshape(-1), np.arange(tensors["embeddings.position_ids"].size)):
        raise ValueError(f"{path}: embeddings.position_ids is not 0, 1, 2, ...")
    if any(not name.startswith("pooler.") for name in unused):
        raise ValueError(f"{path}: tensors left unused: {sorted(unused)}")
    for ours, theirs in names.items():
        value = tensors[theirs].astype(np.float32)
        param = params[ours]
        if param.shape and all(param.shape) and tuple(param.shape) != value.shape:
            raise ValueError(f"{theirs}: shape {value.shape}, parameter {ours} expects {param.shape}")
        param.shape = value.shape
        if param._data is None:
            param.initialize(ctx=ctx)
        param.set_data(mx.nd.array(value, ctx=ctx))
    return len(names)


class FusedSelfAttention(HybridBlock):
    """Multi-head self-attention with its query, key and value projections held as one interleaved weight.

    The same numbers as gluonnlp's DotProductSelfAttentionCell, whose trained weights it takes; it is for
    serving, where the three weights no longer change. Padding pieces are masked by an additive bias
    (padding_bias) rather than by the softmax's lengths. Inputs: x (P, B, U); valid (B, P) the valid pieces
    of each row, repeated along P. Outputs: context (P, B, U) and attention weights (B * heads, P, P).
    """

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self._heads, self._units = cell._num_heads, cell.units

        def interleaved(part):  # (heads, 3 * units / heads, ...) rows: each head's query, key, value in turn
            parts = [getattr(cell, f"{name}_{part}").data() for name in ("query", "key", "value")]
            shape = (self._heads, -1) + parts[0].shape[1:]
            return mx.nd.concat(*(p.reshape(shape) for p in parts), dim=1).reshape((-1,) + parts[0].shape[1:])

        with self.name_scope():
            self.qkv_weight = self.params.get_constant("qkv_weight", interleaved("weight"))
            self.qkv_bias = self.params.get_constant("qkv_bias", interleaved("bias"))

    def hybrid_forward(self, F, x, valid, qkv_weight, qkv_bias):
        projected = F.FullyConnected(x, qkv_weight, qkv_bias, num_hidden=3 * self._units, flatten=False)
        scores = F.contrib.interleaved_matmul_selfatt_qk(projected, heads=self._heads)     # (B * heads, P, P)
        weights = self.masked_softmax(F, scores, valid)
        return F.contrib.interleaved_matmul_selfatt_valatt(projected, weights, heads=self._heads), weights

    def masked_softmax(self, F, scores, valid):
        """(B * heads, P, P) scores and valid (B, P) -> attention weights, padding keys at 0."""
        return F.softmax(scores + padding_bias(F, valid, self._heads), axis=-1)


# Added to the scores of padding pieces: exp underflows to exactly 0, as the masked softmax's would be.
PADDING_SCORE = -1e4


def padding_bias(F, valid, heads):
    """valid (B, P) int, each row's count of real pieces repeated along P -> (B * heads, P, P): 0 where the key
    piece is real, PADDING_SCORE where it pads.

    A plain softmax over scores plus this bias gives the masked softmax's weights (to float rounding, about
    1e-7) in a third of its time: MXNet's softmax with lengths has no oneDNN kernel (bench/README.md). Every
    layer builds the same bias from the same input, so the hybridized graph computes it once.
    """
    valid = F.cast(valid, dtype="float32")
    keys = F.contrib.arange_like(valid, axis=1).reshape((1, -1))                       # (1, P)
    bias = F.broadcast_greater_equal(keys, valid).expand_dims(axis=1) * PADDING_SCORE  # (B, 1, P)
    rows = F.tile(valid.expand_dims(axis=2), reps=(1, heads, 1))                        # (B, heads * P, 1)
    bias = F.broadcast_like(bias, rows, lhs_axes=(1,), rhs_axes=(1,))                   # (B, heads * P, P)
    return bias.reshape((0, -4, heads, -1, 0)).reshape((-3, -2))


def fuse_attention(bert, ctx, fused_cell=None):
    """Swap every layer's attention cell of a trained BERTModel for a FusedSelfAttention (serving only:
    the fused weights are constants, so the encoder no longer learns). fused_cell: a subclass to use
    instead (bench/speed/encoder.py compares one)."""
    for layer in bert.encoder.transformer_cells:
        fused = (fused_cell or FusedSelfAttention)(layer.attention_cell, prefix=layer.attention_cell.prefix)
        fused.initialize(ctx=ctx)
        del layer.attention_cell  # Gluon refuses to set a child of another type over it
        layer.attention_cell = fused
    return bert


class GemmLayerNorm(HybridBlock):
    """LayerNorm over the last axis, with its reductions and broadcasts done as matrix products with ones.

    The same numbers as mxnet's LayerNorm (to float rounding), whose gamma and beta it takes: MXNet 1.9's
    CPU reductions and broadcasts run at a few ns per element, its GEMMs a hundred times faster, so the
    backward pass costs a third. Input x (..., C); output the same shape.
    """

    def __init__(self, layer_norm):
        super().__init__(prefix=layer_norm.prefix, params=layer_norm.params)  # the same Parameters and names
        if layer_norm._kwargs["axis"] != -1 or not (layer_norm._kwargs["center"] and layer_norm._kwargs["scale"]):
            raise ValueError("GemmLayerNorm takes a LayerNorm over the last axis, centred and scaled")
        self._eps, self._units = layer_norm._kwargs["eps"], layer_norm.gamma.shape[0]
        with self.name_scope():
            self.gamma = self.params.get("gamma", shape=layer_norm.gamma.shape)
            self.beta = self.params.get("beta", shape=layer_norm.beta.shape)

    def hybrid_forward(self, F, x, gamma, beta):
        units = self._units
        rows = F.reshape(x, (-1, units))                                          # (N, C)
        ones = F.ones_like(F.slice_axis(rows, axis=0, begin=0, end=1))           # (1, C)
        average, spread = ones / units, F.reshape(ones, (-1, 1))                 # (1, C), (C, 1)
        mean = F.FullyConnected(rows, average, num_hidden=1, no_bias=True)      # (N, 1)
        centred = rows - F.FullyConnected(mean, spread, num_hidden=units, no_bias=True)
        variance = F.FullyConnected(centred * centred, average, num_hidden=1, no_bias=True)
        scale = F.FullyConnected(F.rsqrt(variance + self._eps), F.reshape(gamma, (-1, 1)), num_hidden=units,
                                 no_bias=True)                                   # (N, C): gamma_c / std_n
        shift = F.FullyConnected(F.ones_like(mean), F.reshape(beta, (-1, 1)), num_hidden=units, no_bias=True)
        return F.reshape_like(centred * scale + shift, x)


def gemm_layer_norms(block):
    """Swap every nn.LayerNorm under `block` for a GemmLayerNorm on the same parameters (training: the
    parameter names, and so the bundle, stay as they were)."""
    for name, child in list(block._children.items()):
        if isinstance(child, mx.gluon.nn.LayerNorm):
            swapped = GemmLayerNorm(child)
            if name in vars(block):  # an attribute: Gluon refuses to set a child of another type over it
                delattr(block, name)
                setattr(block, name, swapped)
            else:  # a numbered child of a container
                block.register_child(swapped, name)
        else:
            gemm_layer_norms(child)
    return block


class PieceWords(HybridBlock):
    """The encoder's last hidden states pooled into word vectors.

    Inputs: pieces (B, P) piece ids, [CLS] first, [SEP] last, then padding; valid (B,) pieces per row
    ([CLS] and [SEP] counted); pool (B, T, P) the weight of piece p in word t (each real word's row
    sums to 1, padding words' rows are 0). Output: word vectors (B, T, U).
    bert: a block with BERTModel's call to use instead of a fresh one (bench.speed.int8's quantized encoder).
    """

    def __init__(self, sizes, dropout=0.0, bert=None, **kwargs):
        super().__init__(**kwargs)
        self.units = sizes["units"]  # U
        with self.name_scope():
            self.bert = build_bert(sizes, dropout) if bert is None else bert

    def hybrid_forward(self, F, pieces, valid, pool):
        states = self.bert(pieces, F.zeros_like(pieces), valid)          # (B, P, U)
        return F.batch_dot(pool, states)                                  # (B, T, U)


def freeze_lower(bert, layers):
    """Keep the embeddings and the lowest `layers` transformer layers as pretrained (layers=0: train all)."""
    if not layers:
        return
    frozen = ["word_embed", "token_type_embed", "encoder.position_weight", "encoder.layer_norm"]
    frozen += [f"encoder.transformer_cells.{i}." for i in range(layers)]
    for name, p in bert._collect_params_with_prefix().items():
        if any(name.startswith(f) for f in frozen):
            p.grad_req = "null"
