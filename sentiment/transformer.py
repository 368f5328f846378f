"""The pretrained encoder (all-MiniLM-L6-v2, a 6-layer BERT) in Gluon, and the word vectors made from it.

The encoder is gluonnlp 0.10's BERTModel (no pooler, no decoder) with the sizes of the published
config. Its weights come from model.safetensors through the safetensors package's NumPy API,
each tensor by a direct name map and no transpose (both store Dense weights as (out, in));
`load_safetensors` asserts that every parameter is filled and every tensor used.
bench/encoder_reference.py checks the port against the reference implementation.

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


class PieceWords(HybridBlock):
    """The encoder's last hidden states pooled into word vectors.

    Inputs: pieces (B, P) piece ids, [CLS] first, [SEP] last, then padding; valid (B,) pieces per row
    ([CLS] and [SEP] counted); pool (B, T, P) the weight of piece p in word t (each real word's row
    sums to 1, padding words' rows are 0). Output: word vectors (B, T, U).
    """

    def __init__(self, sizes, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.bert = build_bert(sizes, dropout)

    def hybrid_forward(self, F, pieces, valid, pool):
        states = self.bert(pieces, F.zeros_like(pieces), valid)          # (B, P, U)
        return F.batch_dot(pool, states)                                  # (B, T, U)
