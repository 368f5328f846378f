"""Training: prepare the rows, build and initialise the model, run the epochs, average and calibrate, write the bundle.

`fit` runs those five named steps (prepare.py, loop.py and here); what differs between the kinds of word
vectors is asked of config.kind (sentiment.inference.kinds). A model with its own embedding can learn
from a teacher bundle instead of the rows' own labels alone (`teach`, distil.py).
"""
import tempfile
import time

import mxnet as mx
import numpy as np

from ..corpora import datasets
from ..corpora.absa import absa_files
from ..corpora.embeddings import load_glove
from ..corpora.labelled import load_labelled, source_name
from ..corpora.reviews import review_files
from ..evaluation.metrics import accuracy, expected_calibration_error, macro_f1
from ..inference import bundle
from ..inference.device import describe, resolve_device
from ..inference.predictor import log_softmax
from . import distil
from .aspects import add_aspects
from .documents import add_document_level
from .loop import average_and_calibrate, predict_logits, run_epochs, seed_everything
from .prepare import evaluation_batches, prepare_data, row_weights

ARCHITECTURE = "relation-network self-attention (Kim 2018)"


def teach(config, prepared, log):
    """The transfer set and the teacher's targets in place of the training rows' own (sentiment/training/distil.py)."""
    from ..inference.predictor import Predictor

    settings = config.distillation
    teacher = Predictor.load(settings.teacher, device=config.optimisation.device)
    if teacher.labels != prepared.labels:
        raise ValueError(f"teacher {settings.teacher} answers {teacher.labels}, the data has {prepared.labels}")
    extra, extra_sources = distil.transfer_set(prepared.train_tokens, prepared.train_sources, config, load_glove,
                                               prepared.tokenizer)
    tokens, sources = prepared.train_tokens + extra, prepared.train_sources + extra_sources
    log(f"transfer set: {len(prepared.train_tokens)} training rows and {len(extra)} more "
        f"({', '.join(settings.transfer) or 'none'}); teacher {teacher.version}")
    labels = distil.TeacherLabels(teacher, settings.teacher_cache or distil.CACHE, log)
    taught = labels(tokens)
    targets = distil.soften(taught[:, :-1], settings.distil_temperature)
    n = len(prepared.train_tokens)
    weight = np.where(prepared.train_counterfactual, settings.counterfactual_label_weight,
                      settings.label_weight)[:, None]
    targets[:n] = weight * prepared.train_targets + (1 - weight) * targets[:n]
    ratings = taught[:, -1].copy()  # the teacher's score, on the rating head's scale (rating / rating_scale)
    human = ~np.isnan(prepared.train_ratings)
    ratings[:n][human] = prepared.train_ratings[human]
    described = {"teacher": teacher.version, "path": str(settings.teacher), "transfer": list(settings.transfer),
                 "rows": len(tokens), "labelled": labels.labelled, "cached": labels.cached,
                 "labelling_seconds": labels.seconds}
    log(f"teacher labels: {labels.labelled} labelled in {labels.seconds}s, {labels.cached} from the cache")
    return prepared.replace(
        train_ids=prepared.train_ids + [prepared.inputs.encode(t) for t in extra],
        train_targets=targets.astype(np.float32), train_ratings=ratings.astype(np.float32),
        train_weights=row_weights(sources, targets.argmax(axis=1).tolist(),
                                  np.concatenate([prepared.train_counterfactual, np.zeros(len(extra), bool)]), config),
        train_tokens=tokens, train_sources=sources, sources={**prepared.sources, "distillation": described})


def build(config, prepared, ctx):
    """The bundle config and an initialised model: Xavier, then what the kind fills in (GloVe rows and the constant
    token table, or the pretrained encoder's weights)."""
    model = config.model
    model_config = {"embed_size": model.embed_size, "hidden_size": model.hidden_size,
                    "classifier_size": model.classifier_size, "dropout": model.dropout,
                    "positions": model.positions, "attention_scale": model.attention_scale,
                    "token_features": model.lexicon, "negation": model.negation, "clauses": model.clauses,
                    "attention": model.attention,
                    "rating_head": prepared.has_ratings, **config.kind.model_config(config, prepared.encoder_files)}
    bundle_config = {"labels": prepared.labels, "tokenizer": prepared.tokenizer.to_dict(), "model": model_config,
                     "architecture": ARCHITECTURE}
    net = config.kind.model(bundle_config, prepared.inputs.vocab_size)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    config.kind.initialise(net, config, prepared, model_config, ctx)
    net.hybridize(static_alloc=True)
    return bundle_config, net


def test_figures(model, prepared, temperature, ctx):
    """{corpus: {accuracy, ece}} on our test splits, for a model trained on our data (shown by GET /model)."""
    figures = {}
    for path in datasets.split_files("test"):
        labelled = load_labelled(path, report=lambda m: None)
        batches = evaluation_batches(labelled, prepared.tokenizer, prepared.inputs, prepared.labels)
        logits, labels = predict_logits(model, batches, ctx)
        probabilities = np.exp(log_softmax(logits / temperature))
        predicted = logits.argmax(axis=1)
        figures[source_name(path)] = {
            "n": len(labels), "accuracy": round(accuracy(labels, predicted), 5),
            "macro_f1": round(macro_f1(labels, predicted), 5),
            "ece": round(expected_calibration_error(probabilities, labels), 5)}
    return figures


def fit(config, log=print):
    """Train on config.data, early-stop on its dev, write the bundle to config.out. Returns (version, metrics)."""
    started = time.time()
    seed_everything(config.optimisation.seed)
    ctx = resolve_device(config.optimisation.device)
    prepared = prepare_data(config, log)
    if config.distillation.teacher:
        prepared = teach(config, prepared, log)
    bundle_config, model = build(config, prepared, ctx)
    history, snapshots = run_epochs(config, model, prepared, ctx, log)
    best, kept, best_epoch, temperature, final = average_and_calibrate(config, model, prepared, snapshots, ctx, log)
    bundle_config["temperature"] = round(temperature, 4)
    tests = test_figures(model, prepared, temperature, ctx) if config.data.uses_default_data else None
    metrics = {
        "best_epoch": best_epoch,
        "epochs_averaged": kept,
        "dev_accuracy": round(best, 5),
        "dev_per_source": {k: round(v, 5) for k, v in final.items()},
        "test_per_source": tests,
        "history": history,
        "train_seconds": round(time.time() - started, 1),
        "device": describe(ctx),
        "train_config": config.as_dict(),
        "data": prepared.sources,
    }
    if prepared.vocab is not None:
        coverage = round(prepared.glove_found / len(prepared.vocab), 4)
        metrics.update(vocab_size=len(prepared.vocab), glove_coverage=coverage)
    with tempfile.TemporaryDirectory() as folder:
        vocab_json, files = config.kind.bundle_files(prepared, config, folder)
        version = bundle.save(config.out, model.save_parameters, vocab_json, bundle_config, metrics, files)
    log(f"wrote {config.out} (version {version}, mean dev accuracy {best:.4f}, {metrics['train_seconds']}s)")
    documents = config.documents
    if documents.document_level and config.data.uses_default_data:
        missing = [corpus for corpus in ("imdb", "blitzer", "polarity") if not review_files("train", (corpus,))]
        if missing:
            log(f"the document level learns without the review sets {missing}: prepare them with `python -m "
                f"sentiment data --reviews DIR` (README, 'Reviews', says where to get them)")
    if documents.document_level and documents.documents and not config.distillation.teacher:
        version, metrics["document_level"] = add_document_level(
            config.out, documents.documents, documents.documents_dev, config.data.dev or datasets.split_files("dev"),
            documents.document_limit, documents.document_dev_limit, documents.document_epochs,
            config.optimisation.seed, config.optimisation.device, log, datasets.DATA_DIR / "cache" / "documents",
            config.data.data)
    aspects = config.aspects
    if aspects.aspect_level and config.kind.shares_word_vectors and config.data.uses_default_data:
        if absa_files("train"):
            version, metrics["aspects"] = add_aspects(config.out, epochs=aspects.aspect_epochs,
                                                      tagger_epochs=aspects.tagger_epochs,
                                                      seed=config.optimisation.seed,
                                                      device=config.optimisation.device, log=log,
                                                      cache_dir=datasets.DATA_DIR / "cache" / "aspects")
        else:
            log("no aspect heads: the aspect sets are not prepared (`python -m sentiment data --absa DIR`; README, "
                "'Aspects', says where to get them)")
    return version, metrics
