"""Kinds of word vectors: the one place that knows how a model reads its words.

A model reads its words either through its own embedding, initialised from GloVe (`OwnEmbedding`, the
fast model), or through the pretrained MiniLM encoder fine-tuned end to end (`PretrainedEncoder`, the
accurate one). Everything that differs between them is asked of the kind, never of its name:
tokenizer, inputs, model class, forward pass, bundle files, serving defaults and training recipe.
A third kind is one more class in KINDS.

The name stored in a bundle's config.json (config["model"]["encoder"]: "minilm"; a GloVe model's
config has no such key) is read in `kind_of` alone. This module imports no MXNet: gunicorn's master
reads the serving defaults before its workers fork and before their threads are set.
"""
import json
from dataclasses import dataclass
from pathlib import Path

# The extra files of an encoder model's bundle; a GloVe model's is its vocabulary.
PIECE_VOCAB, LEXICON, VOCAB = "wordpiece_vocab.txt", "lexicon.json", "vocab.json"
# Structure options a bundle may record; a bundle without them is the article's configuration.
RELATION_OPTIONS = {"positions": 0, "attention_scale": None, "token_features": False, "negation": False,
                    "clauses": False, "attention": "softmax"}


@dataclass(frozen=True)
class Serving:
    """How gunicorn serves a kind by default: workers (None: one per core), threads per worker, and how long
    the micro-batcher waits under load for the requests in flight (bench/README.md)."""
    workers: object
    threads: int
    microbatch_wait_ms: float


@dataclass(frozen=True)
class Recipe:
    """Training defaults where the kinds differ (measured on dev: bench/README.md)."""
    epochs: int
    distil_epochs: int
    batch_size: int
    dropout: float
    counterfactual_weight: float


class WordVectors:
    """What every kind answers. Methods that build models import MXNet when called, not before.

    Heads beside the sentence classifier are named by the bundle (sentiment.inference.bundle.head_files). A document
    level reads the pooled sentence vectors of any kind; aspect heads read the word vectors that the served pass
    hands out, which only a kind with shares_word_vectors gives.
    """
    name = None  # as stored in config.json and given to `train --encoder`
    serving = recipe = None
    fine_tunes = False  # a pretrained encoder trained end to end: warm-up, decay and clipping
    own_embeddings = False  # an embedding of its own, which a teacher can distil into
    shares_word_vectors = False  # its served pass can hand its word vectors to other heads (aspects)

    def needed_files(self, config):
        """The files the model needs in its bundle besides weights, config and metrics."""
        raise NotImplementedError

    def tokenizer(self, config, files):
        """The bundle's tokenizer; files: {name: path} of its extra files."""
        raise NotImplementedError

    def inputs(self, config, tokenizer, files, vocab_json):
        """sentiment.inference.inputs for the bundle's model."""
        raise NotImplementedError

    def model(self, config, vocab_size=None):
        """A fresh, uninitialised classifier with the sizes and options recorded in config (vocab_size: the words
        of a model with its own embedding, inputs.vocab_size)."""
        raise NotImplementedError

    def forward(self, model, ctx, inputs):
        """The serving pass (sentiment.inference.forward) for a trained model."""
        raise NotImplementedError

    def for_serving(self, model, ctx):
        """Rearrange a loaded model for answers only (same numbers); training never sees it."""

    # Training (sentiment.training): the same questions, asked before there is a bundle; config is its TrainConfig.
    def pretrained_folder(self, config, fetch):
        """The pretrained weights' folder, or None; fetch(): fetch and verify the default one."""
        return None

    def new_tokenizer(self, config, folder):
        raise NotImplementedError

    def new_inputs(self, config, tokenizer, train_tokens, lexicon, glove):
        """(vocabulary or None, inputs) for training rows."""
        raise NotImplementedError

    def model_config(self, config, folder):
        """What config.json records of this kind's model beyond the relation network's sizes."""
        return {}

    def initialise(self, model, config, prepared, sizes, ctx):
        """Fill in pretrained weights and set what trains at which rate, after Xavier initialisation; sizes: the
        model's entry of config.json."""

    def bundle_files(self, prepared, config, folder):
        """(vocab_json or None, {name: source path}) written into the bundle beside the weights."""
        raise NotImplementedError


class OwnEmbedding(WordVectors):
    """Word ids from the bundle's vocabulary into an embedding of the model's own, initialised from GloVe 6B 50d
    (or at random)."""
    name = "glove"
    serving = Serving(workers=None, threads=4, microbatch_wait_ms=0.0)  # passes take a few ms
    recipe = Recipe(epochs=10, distil_epochs=4, batch_size=64, dropout=0.5, counterfactual_weight=1.0)
    own_embeddings = True

    def needed_files(self, config):
        return (VOCAB,)

    def tokenizer(self, config, files):
        from ..text.tokenizer import Tokenizer

        return Tokenizer.from_dict(config["tokenizer"])

    def inputs(self, config, tokenizer, files, vocab_json):
        import gluonnlp as nlp

        from .inputs import VocabularyInputs

        return VocabularyInputs(nlp.Vocab.from_json(vocab_json))

    def model(self, config, vocab_size=None):
        from ..model.relation import RelationAttentionClassifier

        sizes = config["model"]
        return RelationAttentionClassifier(vocab_size, len(config["labels"]), embed_size=sizes["embed_size"],
                                           **_relation_options(sizes))

    def forward(self, model, ctx, inputs):
        from .forward import ServedForward

        return ServedForward(model, ctx)

    def new_tokenizer(self, config, folder):
        from ..text.tokenizer import Tokenizer

        words = config.words
        return Tokenizer(max_len=words.max_len, emoticons=words.emoticons, drop_mentions=words.drop_mentions)

    def new_inputs(self, config, tokenizer, train_tokens, lexicon, glove):
        from ..text.vocabulary import build_vocab
        from .inputs import VocabularyInputs

        extra = list(glove[0][: config.words.glove_vocab]) if glove else []
        vocab = build_vocab(train_tokens, config.words.min_freq, extra + sorted(lexicon))
        return vocab, VocabularyInputs(vocab)

    def initialise(self, model, config, prepared, sizes, ctx):
        import mxnet as mx

        encoder = model.encoder
        for name, values in prepared.initial_weights.items():  # GloVe rows; the constant per-token features
            if values is not None:
                getattr(encoder, name).weight.set_data(mx.nd.array(values, ctx=ctx))
        if config.optimisation.freeze_embeddings:
            encoder.embedding.weight.grad_req = "null"
        encoder.embedding.weight.lr_mult = config.optimisation.embedding_lr_mult

    def bundle_files(self, prepared, config, folder):
        return prepared.vocab.to_json(), {}


class PretrainedEncoder(WordVectors):
    """WordPiece ids into a pretrained BERT-style encoder (all-MiniLM-L6-v2 by default); a word's vector pools its
    pieces' states."""
    name = "minilm"
    # One worker of 32 threads, so that concurrent requests share its passes (a pass costs far more than a
    # request's overhead); passes under load take 100 ms and more, so the batcher waits 25 ms for the next.
    serving = Serving(workers=1, threads=32, microbatch_wait_ms=25.0)
    # 3 epochs: dev preferred 3 to 2; counterfactuals weighted 2: dev preferred 2 to 1 and 4.
    recipe = Recipe(epochs=3, distil_epochs=None, batch_size=32, dropout=0.1, counterfactual_weight=2.0)
    fine_tunes = True
    shares_word_vectors = True

    def needed_files(self, config):
        return (PIECE_VOCAB, LEXICON) if config["model"].get("token_features") else (PIECE_VOCAB,)

    def tokenizer(self, config, files):
        from ..text.wordpiece import WordPieceTokenizer

        return WordPieceTokenizer.from_dict(config["tokenizer"], files[PIECE_VOCAB])

    def inputs(self, config, tokenizer, files, vocab_json):
        from .inputs import PieceInputs

        sizes = config["model"]
        lexicon = _read_json(files[LEXICON]) if sizes.get("token_features") else None
        return PieceInputs(tokenizer, lexicon, sizes.get("clauses", False), sizes.get("word_pooling", "mean"),
                           sizes.get("pairs", "all"))

    def model(self, config, vocab_size=None):
        from ..model.relation import EncoderRelationClassifier

        sizes = config["model"]
        return EncoderRelationClassifier(sizes["encoder_sizes"], len(config["labels"]),
                                         encoder_dropout=sizes.get("encoder_dropout", 0.0),
                                         relation=sizes.get("relation", True), **_relation_options(sizes))

    def forward(self, model, ctx, inputs):
        from .forward import EncoderForward

        return EncoderForward(model, ctx, inputs.arrays([inputs.encode([inputs.unknown_word])]))

    def for_serving(self, model, ctx):
        from ..model.transformer import fuse_attention

        fuse_attention(model.words.bert, ctx)  # the attention's weights interleaved once

    def pretrained_folder(self, config, fetch):
        return Path(config.words.encoder_path) if config.words.encoder_path else fetch()

    def new_tokenizer(self, config, folder):
        from ..text.wordpiece import WordPieceTokenizer

        words = config.words
        return WordPieceTokenizer(vocab_file=str(folder / "vocab.txt"), max_len=words.max_len,
                                  max_pieces=words.max_pieces, drop_mentions=words.drop_mentions)

    def new_inputs(self, config, tokenizer, train_tokens, lexicon, glove):
        from .inputs import PieceInputs

        return None, PieceInputs(tokenizer, lexicon if config.model.lexicon else None, config.model.clauses,
                                 config.words.word_pooling, config.model.pairs)

    def model_config(self, config, folder):
        from ..model.transformer import config_from_file

        sizes = config_from_file(folder / "config.json")
        return dict(encoder=self.name, encoder_sizes=sizes, embed_size=sizes["units"],
                    encoder_dropout=config.words.encoder_dropout, word_pooling=config.words.word_pooling,
                    relation=config.model.relation, pairs=config.model.pairs)

    def initialise(self, model, config, prepared, sizes, ctx):
        from ..model.transformer import freeze_lower, load_safetensors

        bert = model.words.bert
        layers = sizes["encoder_sizes"]["num_layers"]
        load_safetensors(bert, prepared.encoder_files / "model.safetensors", layers, ctx)
        freeze_lower(bert, config.optimisation.freeze_layers)
        if config.optimisation.freeze_embeddings:
            bert.word_embed.collect_params().setattr("grad_req", "null")
        self.speed_up(bert)
        for name, p in model.words.collect_params().items():
            p.lr_mult = config.optimisation.encoder_lr / config.optimisation.lr
            if name.endswith(("bias", "gamma", "beta")):
                p.wd_mult = 0.0

    @staticmethod
    def speed_up(bert):
        """LayerNorms made of matrix products: the same numbers, a backward pass 3x cheaper on the CPU."""
        from ..model.transformer import gemm_layer_norms

        gemm_layer_norms(bert)

    def bundle_files(self, prepared, config, folder):
        lexicon = Path(folder) / LEXICON
        lexicon.write_text(json.dumps(prepared.lexicon, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        files = {PIECE_VOCAB: prepared.encoder_files / "vocab.txt"}
        return None, {**files, LEXICON: lexicon} if config.model.lexicon else files


KINDS = {kind.name: kind for kind in (PretrainedEncoder(), OwnEmbedding())}


def kind_named(name):
    """The kind `train --encoder NAME` asks for; ValueError names the choices."""
    if name not in KINDS:
        raise ValueError(f"encoder must be one of {tuple(KINDS)}, got {name!r}")
    return KINDS[name]


def kind_of(config):
    """The kind of a bundle's config.json. An own-embedding bundle records no encoder: it predates the others."""
    return KINDS[config["model"].get("encoder", OwnEmbedding.name)]


def serving_layout(model_path, cores):
    """(workers, threads) that gunicorn starts by default for the bundle at model_path, its kind read from its
    config.json alone (no MXNet, no verification); an own-embedding layout when there is no readable bundle yet
    (the app then says so on /ready)."""
    try:
        serving = kind_of(_read_json(Path(model_path) / "config.json")).serving
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        serving = OwnEmbedding.serving
    return (serving.workers or cores, serving.threads)


def _relation_options(sizes):
    options = {name: sizes.get(name, default) for name, default in RELATION_OPTIONS.items()}
    return dict(hidden_size=sizes["hidden_size"], classifier_size=sizes["classifier_size"],
                dropout=sizes.get("dropout", 0.0), rating_head=sizes.get("rating_head", False), **options)


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
