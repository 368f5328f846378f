import shutil
from pathlib import Path

import pytest

from sentiment.training.config import TrainConfig
from sentiment.training.aspects import add_aspects
from sentiment.training.documents import add_document_level
from sentiment.training.fit import fit
from tests.helpers import Gunicorn, make_documents, make_reviews, make_tiny_encoder, write_absa, write_jsonl

SMALL = dict(encoder="glove", embeddings="random", embed_size=16, hidden_size=16, classifier_size=16, epochs=6,
             batch_size=16, lr=0.01, max_len=24, glove_vocab=0, dropout=0.0, patience=6, progress=False)
# The encoder model on a tiny random-weight BERT (tests/helpers.make_tiny_encoder): the same code as the default.
SMALL_ENCODER = dict(encoder="minilm", hidden_size=16, classifier_size=16, epochs=6, batch_size=16, lr=0.01,
                     encoder_lr=0.005, warmup=0.1, max_len=24, dropout=0.0, encoder_dropout=0.0, patience=6,
                     progress=False)


@pytest.fixture(scope="session")
def labelled_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    return (write_jsonl(folder / "train.jsonl", make_reviews(240, seed=1)),
            write_jsonl(folder / "dev.jsonl", make_reviews(60, seed=2)))


@pytest.fixture(scope="session")
def small_bundle(tmp_path_factory, labelled_files):
    """A small model trained once per test session on the synthetic reviews (a few seconds)."""
    out = tmp_path_factory.mktemp("models") / "small"
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(out), seed=3, **SMALL),
        log=lambda message: None)
    return out


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory):
    return make_tiny_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="session")
def encoder_bundle(tmp_path_factory, labelled_files, tiny_encoder):
    """An encoder model on the tiny BERT, trained once per test session on the synthetic reviews."""
    out = tmp_path_factory.mktemp("models") / "encoder"
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(out), seed=3,
                    encoder_path=str(tiny_encoder), **SMALL_ENCODER), log=lambda message: None)
    return out


@pytest.fixture(scope="module")
def server(small_bundle, tmp_path_factory):
    """A real gunicorn on 127.0.0.1 serving the small bundle (at most 8 texts a request)."""
    log = tmp_path_factory.mktemp("logs") / "gunicorn.log"
    gunicorn = Gunicorn(small_bundle, log_path=log, extra_env={"SENTIMENT_MAX_TEXTS": "8"}).wait("/ready")
    yield gunicorn
    gunicorn.stop()


@pytest.fixture(scope="session")
def document_bundle(small_bundle, tmp_path_factory):
    """The small bundle with a document level trained on synthetic reviews of several sentences."""
    folder = tmp_path_factory.mktemp("document-level")
    shutil.copytree(Path(small_bundle).resolve(), folder / "model")
    train = write_jsonl(folder / "train.jsonl", make_documents(160, seed=1))
    dev = write_jsonl(folder / "dev.jsonl", make_documents(40, seed=2))
    add_document_level(folder / "model", [str(train)], [str(dev)], [], epochs=6, log=lambda message: None)
    return folder / "model"


@pytest.fixture(scope="session")
def aspect_bundle(encoder_bundle, tmp_path_factory):
    """The tiny encoder bundle with aspect heads trained on synthetic aspect sets."""
    folder = tmp_path_factory.mktemp("aspects")
    shutil.copytree(Path(encoder_bundle).resolve(), folder / "model")
    add_aspects(folder / "model", sets=("restaurants", "laptops"), epochs=8, tagger_epochs=8, log=lambda message: None,
                data_dir=write_absa(folder))
    return folder / "model"
