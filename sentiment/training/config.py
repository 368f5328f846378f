"""Training's configuration: six groups of fields, each with its default, its check and its command-line help.

`TrainConfig(**options)` takes every field by its own name (they are unique across groups) and files it in
its group: config.data, config.words, config.model, config.optimisation, config.augmentation and
config.distillation. `add_arguments` makes `sentiment train` and `sentiment distil` options from the fields'
metadata, so the help and the defaults are the fields' own. A default of None that depends on the kind
of word vectors is filled in from the kind's recipe (sentiment.inference.kinds).
"""
import dataclasses
from dataclasses import dataclass, field

from ..corpora import datasets
from ..corpora.labelled import expand_paths
from ..inference.kinds import KINDS, kind_named
from .distil import AUGMENTATIONS

DEFAULT_OUT = "models/default"


def option(default, help, flag=None, factory=None, **argparse):
    """A field with its command-line help; flag overrides the option's name (a bool's --no-x, say)."""
    metadata = {"help": help, "flag": flag, "argparse": argparse}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _by_kind(what):
    """'3 for minilm, 10 for glove': a recipe default as the help states it (kinds without one left out)."""
    return ", ".join(f"{getattr(kind.recipe, what)} for {name}" for name, kind in KINDS.items()
                     if getattr(kind.recipe, what) is not None)


def _positive_ints(group, *names):
    for name in names:
        value = getattr(group, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class DataConfig:
    """What to learn from, and how each file says it."""
    data: list = option(None, "training files or directories of them (default: the four fetched corpora)",
                        factory=lambda: datasets.split_files("train"), nargs="+", metavar="PATH")
    dev: list = option(None, "development files for early stopping and calibration (default: with --data, a "
                             "stratified part held out of each file; without, the corpora's dev splits)",
                       nargs="+", metavar="PATH")
    dev_fraction: float = option(0.1, "held out of each --data file as dev when no --dev is given")
    text_field: str = option("text", "JSON key or CSV column of the text")
    label_field: str = option("label", "JSON key or CSV column of the label")
    confidence_field: str = option(None, "optional key or column: probability in (0, 1] that the label is right, "
                                         "a soft target (off by default: hard labels did better on dev)")
    rating_field: str = option(None, "optional key or column with a number per row: adds a regression head, and "
                                     "answers read their score from it (default: 'rating', the raters' mean on "
                                     "-4..+4, for the fetched data; none for your files; '' for none)")
    rating_scale: float = option(4.0, "the rating head learns rating / this, clipped to [-1, 1]")
    strict: bool = option(False, "stop at the first bad row instead of reporting it")

    def __post_init__(self):
        self.data = expand_paths(self.data)
        self.dev = None if self.dev is None else expand_paths(self.dev)
        if self.rating_field is None:
            self.rating_field = "rating" if self.uses_default_data else ""
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction!r}")
        if not self.rating_scale > 0:
            raise ValueError(f"rating_scale must be positive, got {self.rating_scale!r}")

    @property
    def uses_default_data(self):
        return self.data == datasets.split_files("train")


@dataclass
class WordsConfig:
    """Where the word vectors come from, and how text becomes words."""
    encoder: str = option("minilm", "the kind of word vectors: the pretrained MiniLM encoder fine-tuned (accurate) "
                                    "or GloVe 50d embeddings (fast)", choices=list(KINDS))
    encoder_path: str = option(None, "the encoder's files (model.safetensors, vocab.txt, config.json) (default: "
                                     "data/minilm, fetched at set-up)")
    word_pooling: str = option("mean", "minilm: a word's vector is the mean of its pieces' states or the first",
                               choices=["mean", "first"])
    encoder_dropout: float = option(0.1, "minilm: dropout inside the encoder, as it was pretrained")
    max_pieces: int = option(128, "minilm: pieces per sentence (a longer one is read in parts)")
    embeddings: str = option("glove", "glove: the embedding starts from GloVe 6B 50d or at random",
                             choices=["glove", "random"])
    glove_vocab: int = option(50000, "glove: the most frequent GloVe words added to the vocabulary")
    min_freq: int = option(1, "glove: a training word enters the vocabulary from this many occurrences")
    max_len: int = option(64, "tokens kept per text")
    emoticons: bool = option(True, "split emoticons such as ':)' into characters, as older bundles do",
                             flag="--no-emoticons")
    drop_mentions: bool = option(True, "keep @mentions and links as tokens, as older bundles do",
                                 flag="--keep-mentions")

    def __post_init__(self):
        self.kind = kind_named(self.encoder)
        _positive_ints(self, "max_len", "min_freq", "max_pieces")
        if self.word_pooling not in ("mean", "first"):
            raise ValueError(f"word_pooling must be 'mean' or 'first', got {self.word_pooling!r}")
        if self.embeddings not in ("glove", "random"):
            raise ValueError(f"embeddings must be 'glove' or 'random', got {self.embeddings!r}")
        if not self.kind.own_embeddings and self.embeddings != "glove":
            raise ValueError(f"embeddings={self.embeddings!r} is for a kind with its own embedding (glove): "
                             f"{self.encoder} makes its own vectors")


@dataclass
class ModelConfig:
    """The relation network's sizes and the structure it keeps or adds (all off: the article's)."""
    embed_size: int = option(50, "glove: the embedding's size (50 with GloVe 6B 50d)")
    hidden_size: int = option(64, "the pair network's width (128 measured no better on dev, 1.9x slower)")
    classifier_size: int = option(128, "the classifier's hidden width")
    dropout: float = option(None, f"on the word vectors and the classifier (default: {_by_kind('dropout')})")
    positions: int = option(8, "clip of the word offset j - i the pair network sees; 0: order-blind (article)")
    attention_scale: float = option(8.0, "initial learned inverse temperature of the attention (article: none)")
    attention: str = option(None, "how pair scores become weights: sparsemax gives exact zeros, softmax (the "
                                  "article's) none (default: sparsemax for minilm, softmax for glove)",
                            choices=["softmax", "sparsemax"])
    pairs: str = option(None, "minilm: 'words' leaves punctuation out of the pair grid, the encoder still reading "
                              "it; 'all' pairs every token (default: words for minilm; glove pairs all)",
                        choices=["all", "words"])
    lexicon: bool = option(True, "no VADER valence, negation-scope or clause features (implies --no-negation "
                                 "--no-clauses --no-augment-negation)", flag="--no-lexicon")
    negation: bool = option(True, "no learned negation operator on word vectors inside a negation scope")
    clauses: bool = option(True, "no flags on clauses that a later 'but' or an 'although' overrides")
    relation: bool = option(True, "minilm: a mean over the words instead of the pair network (the ablation of the "
                                  "relation head)")

    def __post_init__(self):
        _positive_ints(self, "embed_size", "hidden_size", "classifier_size")
        if not isinstance(self.positions, int) or self.positions < 0:
            raise ValueError(f"positions must be a non-negative integer, got {self.positions!r}")
        if self.attention_scale is not None and not self.attention_scale > 0:
            raise ValueError(f"attention_scale must be positive or None, got {self.attention_scale!r}")
        if self.attention not in (None, "softmax", "sparsemax") or self.pairs not in (None, "all", "words"):
            raise ValueError(f"attention must be 'softmax' or 'sparsemax' and pairs 'all' or 'words', got "
                             f"{self.attention!r} and {self.pairs!r}")
        if self.negation and not self.lexicon:
            raise ValueError("negation needs lexicon=True (the negation scope comes from the lexicon features)")
        if self.clauses and not self.lexicon:
            raise ValueError("clauses needs lexicon=True (the clause flags are lexicon features)")


@dataclass
class OptimisationConfig:
    """How it learns: epochs, rates, weights of the rows, and how the epochs are chosen."""
    epochs: int = option(None, f"(default: {_by_kind('epochs')}; distilled: {_by_kind('distil_epochs')})")
    batch_size: int = option(None, f"(default: {_by_kind('batch_size')})")
    lr: float = option(1e-3, "the relation network's (and GloVe embeddings') learning rate")
    encoder_lr: float = option(5e-5, "minilm: the encoder's learning rate")
    warmup: float = option(0.1, "minilm: share of the steps warming up, then a linear decay to 0")
    clip: float = option(1.0, "minilm: the global gradient norm is clipped to this")
    freeze_layers: int = option(0, "minilm: keep the embeddings and this many lower layers as pretrained")
    freeze_embeddings: bool = option(False, "keep the word (or piece) embeddings as initialised (faster; dev "
                                            "macro-F1 0.7 points lower with the encoder)")
    embedding_lr_mult: float = option(1.0, "glove: the embeddings learn at lr times this")
    weight_decay: float = option(0.0, "Adam's weight decay")
    patience: int = option(3, "epochs without dev improvement before stopping")
    average_best: int = option(3, "average the weights of this many best epochs if dev agrees (1: best only)")
    select_metric: str = option("accuracy", "dev figure that chooses the epochs", choices=["accuracy", "macro_f1"])
    calibrate: bool = option(True, "fit no softmax temperature on dev after training", flag="--no-calibrate")
    balance: float = option(0.5, "loss weight of a file's rows ~ its share ** -balance, in [0, 1]")
    class_balance: float = option(0.0, "loss weight of a label's rows ~ its share ** -class-balance, in [0, 1]")
    rating_weight: float = option(1.0, "the rating head's loss weight beside the cross-entropy")
    seed: int = option(0, "seed of every random draw: the same seed on the same CPU trains the same weights")
    device: str = option(None, "cpu, gpu or gpu:N (default: GPU if MXNet sees one, else CPU)")

    def __post_init__(self):
        if self.epochs is not None:
            _positive_ints(self, "epochs")
        if self.batch_size is not None:
            _positive_ints(self, "batch_size")
        _positive_ints(self, "average_best")
        if not self.lr > 0 or not self.encoder_lr > 0 or not self.clip > 0 or not self.rating_weight > 0:
            raise ValueError(f"lr, encoder_lr, clip and rating_weight must be positive, got {self.lr!r}, "
                             f"{self.encoder_lr!r}, {self.clip!r} and {self.rating_weight!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be in [0, 1), got {self.warmup!r}")
        if not isinstance(self.freeze_layers, int) or self.freeze_layers < 0:
            raise ValueError(f"freeze_layers must be a non-negative integer, got {self.freeze_layers!r}")
        if not 0 <= self.balance <= 1 or not 0 <= self.class_balance <= 1:
            raise ValueError(f"balance and class_balance must be in [0, 1], got {self.balance!r} and "
                             f"{self.class_balance!r}")
        if self.select_metric not in ("accuracy", "macro_f1"):
            raise ValueError(f"select_metric must be 'accuracy' or 'macro_f1', got {self.select_metric!r}")


@dataclass
class AugmentationConfig:
    """Rows made from the training rows."""
    augment_negation: bool = option(True, "no 'not' counterfactuals of training sentences ('is amazing' -> 'is not "
                                          "amazing', label flipped); they need the labels positive and negative")
    counterfactual_weight: float = option(None, "loss weight of a negation counterfactual row (default: "
                                                f"{_by_kind('counterfactual_weight')})")


@dataclass
class DistillationConfig:
    """A model with its own embedding learns from a teacher bundle's answers on a transfer set (distil.py)."""
    teacher: str = option(None, "the bundle whose answers the model learns from", metavar="BUNDLE")
    transfer: tuple = option(AUGMENTATIONS, "what the transfer set adds to the training rows",
                             nargs="*", choices=AUGMENTATIONS)
    transfer_variants: int = option(10, "variants drawn per training row (Tang et al. drew 20)")
    distil_temperature: float = option(2.0, "the teacher's probabilities are softened at this temperature")
    label_weight: float = option(0.5, "share of the true label in a labelled row's target")
    counterfactual_label_weight: float = option(0.5, "the same for a negation counterfactual's constructed label")
    teacher_cache: str = option(None, "where the teacher's labels are kept (default: data/cache/teacher)")

    def __post_init__(self):
        unknown = set(self.transfer) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"transfer must hold only {AUGMENTATIONS}, got {sorted(unknown)}")
        self.transfer = tuple(self.transfer)
        if not isinstance(self.transfer_variants, int) or self.transfer_variants < 0:
            raise ValueError(f"transfer_variants must be a non-negative integer, got {self.transfer_variants!r}")
        weights = (self.label_weight, self.counterfactual_label_weight)
        if not self.distil_temperature > 0 or not all(0 <= w <= 1 for w in weights):
            raise ValueError(f"distil_temperature must be positive, label_weight and counterfactual_label_weight in "
                             f"[0, 1], got {self.distil_temperature!r} and {weights!r}")


def default_documents(split):
    """The prepared review sets' and the project's documents' files of one split."""
    from ..corpora.reviews import review_files

    return review_files(split, ("imdb", "blitzer", "polarity")) + datasets.document_files(split)


@dataclass
class DocumentsConfig:
    """The document level over the sentences (sentiment.training.documents), trained after them on whole texts."""
    document_level: bool = option(True, "no document level: texts of several sentences get the hand-set verdict",
                                  flag="--no-document-level")
    documents: list = option(None, "files of whole texts: text, label, optionally rating in [-1, 1] (default: with "
                                   "the fetched data, the prepared review sets and the project's documents)",
                             nargs="+", metavar="PATH")
    documents_dev: list = option(None, "dev files of whole texts, which choose the epoch and the mixed thresholds "
                                       "(default: the same sets' dev splits)", nargs="+", metavar="PATH")
    document_limit: int = option(2000, "texts read per --documents file (a seeded sample): the time the level takes "
                                       "grows with it")
    document_dev_limit: int = option(500, "texts read per --documents-dev file")
    document_epochs: int = option(12, "epochs of the document level (the best on dev is kept)")

    def __post_init__(self):
        _positive_ints(self, "document_limit", "document_dev_limit", "document_epochs")
        if self.documents is not None and self.documents_dev is None:
            raise ValueError("documents_dev is needed with documents: dev texts choose the document level's epoch")


@dataclass
class AspectsConfig:
    """The aspect heads over the sentence model's word vectors (sentiment.training.aspects), trained after it on the
    prepared aspect sets: an encoder model on the default data (`sentiment aspect-level` adds them to any encoder
    bundle)."""
    aspect_level: bool = option(True, "no aspect heads: requests with aspects are refused", flag="--no-aspect-level")
    aspect_epochs: int = option(6, "epochs of the target polarity head (the best on dev is kept)")
    tagger_epochs: int = option(20, "epochs of the target tagger (the best on dev is kept)")

    def __post_init__(self):
        _positive_ints(self, "aspect_epochs", "tagger_epochs")


GROUPS = {"data": DataConfig, "words": WordsConfig, "model": ModelConfig, "optimisation": OptimisationConfig,
          "augmentation": AugmentationConfig, "distillation": DistillationConfig, "documents": DocumentsConfig,
          "aspects": AspectsConfig}
GROUP_OF = {f.name: group for group, cls in GROUPS.items() for f in dataclasses.fields(cls)}


class TrainConfig:
    """Every training option, filed in its group; TrainConfig(lr=1e-3, encoder="glove", ...) by field name.

    out: the bundle directory to write; progress: a progress bar on a terminal.
    """

    def __init__(self, out=DEFAULT_OUT, progress=True, **options):
        unknown = sorted(set(options) - set(GROUP_OF))
        if unknown:
            raise TypeError(f"TrainConfig got unknown options {unknown}; expected names among {sorted(GROUP_OF)}")
        self.out, self.progress = out, progress
        for group, cls in GROUPS.items():
            setattr(self, group, cls(**{k: v for k, v in options.items() if GROUP_OF[k] == group}))
        self._fill_kind_defaults()
        self._check_across_groups()
        documents = self.documents
        if documents.document_level and documents.documents is None and self.data.uses_default_data:
            documents.documents, documents.documents_dev = default_documents("train"), default_documents("dev")

    @property
    def kind(self):
        """The kind of word vectors (sentiment.inference.kinds)."""
        return self.words.kind

    def _fill_kind_defaults(self):
        recipe, optimisation = self.kind.recipe, self.optimisation
        if optimisation.epochs is None:
            optimisation.epochs = recipe.distil_epochs if self.distillation.teacher else recipe.epochs
        if optimisation.batch_size is None:
            optimisation.batch_size = recipe.batch_size
        if self.model.dropout is None:
            self.model.dropout = recipe.dropout
        if self.augmentation.counterfactual_weight is None:
            self.augmentation.counterfactual_weight = recipe.counterfactual_weight
        own = self.kind.own_embeddings  # measured for the encoder only (bench/README.md): GloVe keeps the article's
        if self.model.attention is None:
            self.model.attention = "softmax" if own else "sparsemax"
        if self.model.pairs is None:
            self.model.pairs = "all" if own else "words"

    def _check_across_groups(self):
        if not 0 <= self.model.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.model.dropout!r}")
        if not self.augmentation.counterfactual_weight >= 0:
            raise ValueError(f"counterfactual_weight must be >= 0, got {self.augmentation.counterfactual_weight!r}")
        if self.augmentation.augment_negation and not self.model.lexicon:
            raise ValueError("augment_negation needs lexicon=True (it finds the words that carry the label there)")
        if self.distillation.teacher and not self.kind.own_embeddings:
            raise ValueError(f"teacher is for a kind with its own embedding (glove), not {self.words.encoder}: the "
                             f"fast model learns from an encoder bundle")
        if self.kind.own_embeddings and self.model.pairs == "words":
            raise ValueError(f"pairs='words' is for an encoder kind (minilm), not {self.words.encoder}: it needs an "
                             f"encoder that reads the punctuation in context")
        if self.kind.own_embeddings and self.words.embeddings == "glove" and self.model.embed_size != 50:
            raise ValueError(f"embed_size must be 50 with GloVe 6B 50d embeddings, got {self.model.embed_size}")

    def as_dict(self):
        """The options by group, as metrics.json records them."""
        return {"out": self.out, **{group: dataclasses.asdict(getattr(self, group)) for group in GROUPS}}


def add_arguments(parser):
    """One command-line option per field, from its metadata: --field-name, or its own flag for a boolean."""
    for group, cls in GROUPS.items():
        section = parser.add_argument_group(group, cls.__doc__)
        for f in dataclasses.fields(cls):
            meta = f.metadata
            flag = meta["flag"] or "--" + f.name.replace("_", "-")
            if isinstance(f.default, bool):
                negated = f.default
                if meta["flag"] is None and negated:
                    flag = "--no-" + f.name.replace("_", "-")
                section.add_argument(flag, dest=f.name, action="store_false" if negated else "store_true",
                                     default=None, help=meta["help"])
                continue
            kind = type(f.default) if f.default not in (None, dataclasses.MISSING) else _annotated(f)
            plain = f.default not in (None, dataclasses.MISSING) and "default:" not in meta["help"]
            shown = f" (default: {f.default})" if plain else ""
            arguments = dict(meta["argparse"])
            if "nargs" not in arguments and kind in (int, float, str):
                arguments["type"] = kind
            section.add_argument(flag, dest=f.name, default=None, help=meta["help"] + shown, **arguments)
    return parser


def _annotated(f):
    return {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)


def from_arguments(args, **overrides):
    """A TrainConfig of the options given on the command line (None: not given), then overrides."""
    given = {name: value for name, value in vars(args).items() if name in GROUP_OF and value is not None}
    return TrainConfig(**{**given, **overrides})
