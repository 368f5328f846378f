"""The pretrained encoder: the Gluon port against the reference, its tokenizer, and the relation network on it."""
import json
import shutil
import zipfile

import mxnet as mx
import numpy as np
import pytest

from sentiment.corpora import pretrained
from sentiment.corpora.labelled import DataError
from sentiment.inference.inputs import PieceInputs
from sentiment.inference.predictor import Predictor
from sentiment.model.transformer import (
    FusedSelfAttention,
    GemmLayerNorm,
    build_bert,
    config_from_file,
    fuse_attention,
    gemm_layer_norms,
    load_safetensors,
    padding_bias,
)
from sentiment.text.wordpiece import WordPieceTokenizer, group_words
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from tests.conftest import SMALL_ENCODER
from tests.helpers import ROOT, write_jsonl
from tests.test_contributions import check_sums

REFERENCE = ROOT / "tests" / "fixtures" / "minilm_reference.npz"


def bert_from(folder):
    sizes = config_from_file(folder / "config.json")
    bert = build_bert(sizes)
    bert.initialize()
    load_safetensors(bert, folder / "model.safetensors", sizes["num_layers"])
    return bert


def states(bert, ids):
    x = mx.nd.array([ids])
    return bert(x, mx.nd.zeros_like(x), mx.nd.array([len(ids)])).asnumpy()[0]


def test_the_port_gives_the_reference_implementations_hidden_states():
    """The real all-MiniLM-L6-v2, fetched and verified as set-up does, against PyTorch's outputs
    (bench/reference/encoder_reference.py wrote them): the same piece ids, the same last hidden states within 1e-4."""
    folder = pretrained.prepare_encoder()
    reference = np.load(REFERENCE)
    tokenizer = WordPieceTokenizer(str(folder / "vocab.txt"), max_len=512, max_pieces=510)
    bert = bert_from(folder)
    bert.hybridize()
    starts = np.concatenate([[0], np.cumsum(reference["lengths"])])
    worst = 0.0
    for k, sentence in enumerate(reference["sentences"]):
        ids = reference["ids"][starts[k]:starts[k + 1]].tolist()
        words = tokenizer.split(str(sentence))
        assert [101, *(p for w in words for p in tokenizer.pieces(w)), 102] == ids, sentence
        worst = max(worst, float(np.abs(states(bert, ids) - reference["states"][starts[k]:starts[k + 1]]).max()))
    assert len(reference["sentences"]) >= 30 and worst <= 1e-4


def test_fused_attention_gives_the_same_states(tiny_encoder):
    """Serving's interleaved query-key-value weight (made once) against gluonnlp's cell (made per call),
    on a padded batch, so that the masking is compared too."""
    bert = bert_from(tiny_encoder)
    pieces = mx.nd.array([[2, 17, 18, 19, 20, 3], [2, 21, 3, 0, 0, 0]])  # [CLS] ... [SEP], then [PAD]
    valid = mx.nd.array([6, 3])
    before = bert(pieces, mx.nd.zeros_like(pieces), valid).asnumpy()
    fuse_attention(bert, mx.cpu())
    bert.hybridize(static_alloc=True)
    after = bert(pieces, mx.nd.zeros_like(pieces), valid).asnumpy()
    assert all(isinstance(layer.attention_cell, FusedSelfAttention) for layer in bert.encoder.transformer_cells)
    assert np.abs(before).max() > 0.1 and np.abs(after - before).max() <= 1e-6


def test_the_padding_bias_gives_the_masked_softmax():
    """Serving's plain softmax over scores plus padding_bias against MXNet's softmax with lengths, per head:
    padding keys get exactly 0, real ones the same weights."""
    heads, lengths, width = 3, [5, 2, 1], 5
    scores = mx.nd.random.normal(scale=4, shape=(len(lengths) * heads, width, width))
    valid = mx.nd.array([[n] * width for n in lengths], dtype="int32")                        # (B, P)
    per_head = mx.nd.array([[n] * width for n in lengths for _ in range(heads)], dtype="int32")  # (B * heads, P)
    expected = mx.nd.softmax(scores, length=per_head, use_length=True, axis=-1).asnumpy()
    got = mx.nd.softmax(scores + padding_bias(mx.nd, valid, heads), axis=-1).asnumpy()
    padding = np.arange(width)[None, None, :] >= np.repeat(lengths, heads)[:, None, None]
    assert np.all(got[np.broadcast_to(padding, got.shape)] == 0)
    assert np.abs(got - expected).max() <= 1e-6 and np.allclose(got.sum(axis=-1), 1)


def test_training_layer_norms_give_the_same_states_and_gradients(tiny_encoder):
    """Training's LayerNorms made of matrix products against MXNet's own: the same parameters under the same
    names, the same states and the same gradients (to float rounding) on a padded batch."""
    pieces = mx.nd.array([[2, 17, 18, 19, 20, 3], [2, 21, 3, 0, 0, 0]])
    valid = mx.nd.array([6, 3])
    upstream = mx.nd.array(np.random.RandomState(0).randn(2, 6, 32))
    answers = []
    for swap in (False, True):
        bert = bert_from(tiny_encoder)
        names = sorted(bert._collect_params_with_prefix())
        if swap:
            gemm_layer_norms(bert)
            assert isinstance(bert.encoder.layer_norm, GemmLayerNorm)
            assert all(isinstance(c.ffn.layer_norm, GemmLayerNorm) for c in bert.encoder.transformer_cells)
            assert sorted(bert._collect_params_with_prefix()) == names
            assert len(bert.collect_params().keys()) == len(bert_from(tiny_encoder).collect_params().keys())
        bert.hybridize(static_alloc=True)
        with mx.autograd.record():
            states = bert(pieces, mx.nd.zeros_like(pieces), valid)
        states.backward(upstream[:, :, : states.shape[2]])
        answers.append((states.asnumpy(), {k: p.grad().asnumpy() for k, p in bert._collect_params_with_prefix().items()
                                           if p.grad_req != "null"}))
    (states, grads), (swapped_states, swapped_grads) = answers
    assert np.abs(swapped_states - states).max() <= 1e-5
    assert grads.keys() == swapped_grads.keys() and any("layer_norm.gamma" in k for k in grads)
    for name, grad in grads.items():
        assert np.abs(swapped_grads[name] - grad).max() <= 1e-5 * max(1.0, np.abs(grad).max()), name


def test_every_parameter_takes_a_tensor_and_a_missing_one_is_named(tiny_encoder, tmp_path):
    from safetensors.numpy import load_file, save_file

    sizes = config_from_file(tiny_encoder / "config.json")
    bert = build_bert(sizes)
    bert.initialize()
    assert load_safetensors(bert, tiny_encoder / "model.safetensors", sizes["num_layers"]) == 5 + 16 * 2
    tensors = load_file(str(tiny_encoder / "model.safetensors"))
    key = "encoder.layer.1.attention.self.key.weight"
    np.testing.assert_array_equal(bert._collect_params_with_prefix()[
        "encoder.transformer_cells.1.attention_cell.proj_key.weight"].data().asnumpy(), tensors[key])
    del tensors[key]
    save_file(tensors, str(tmp_path / "broken.safetensors"))
    with pytest.raises(KeyError, match="attention.self.key.weight"):
        load_safetensors(build_bert(sizes), tmp_path / "broken.safetensors", sizes["num_layers"])


def test_words_are_read_as_users_read_them(tiny_encoder):
    assert group_words(["i", "don", "'", "t", "like", "it", ":", "(", "!", "!", "!", "<", "3"]) == [
        "i", "don't", "like", "it", ":(", "!!!", "<3"]
    tokenizer = WordPieceTokenizer(str(tiny_encoder / "vocab.txt"), max_len=6)
    assert tokenizer.split("@someone The film is WONDERFUL http://example.com/x") == ["the", "film", "is", "wonderful"]
    assert tokenizer.split("See HTTPS://EXAMPLE.COM/X or WWW.EXAMPLE.COM") == ["see", "or"]
    assert tokenizer.split("@someone") == ["@", "someone"]  # a text that is nothing else keeps them
    vocab = tokenizer.vocab
    assert tokenizer.pieces("wonderful") == (vocab["wonder"], vocab["##ful"])
    assert tokenizer.pieces("zebra") == (vocab["[UNK]"],) and tokenizer.is_unknown("zebra")
    words, truncated = tokenizer("the cast is lovely and the plot is stale")
    assert words == ["the", "cast", "is", "lovely", "and", "the"] and truncated
    assert tokenizer.measure("wonderful film") == (2, 3) and tokenizer.limits == (6, 128)


def test_pieces_are_pooled_into_words(tiny_encoder):
    tokenizer = WordPieceTokenizer(str(tiny_encoder / "vocab.txt"))
    inputs = PieceInputs(tokenizer, lexicon={"wonderful": 0.7}, clauses=True)
    encoded = [inputs.encode(["a", "wonderful", "film"]), inputs.encode(["not", "dull"])]
    pieces, valid, pool, packed = inputs.arrays(encoded)
    assert pieces.shape == (2, 6) and valid.tolist() == [6, 4] and pool.shape == (2, 8, 6)  # pieces not padded
    assert pieces[0, :6].tolist() == [2, tokenizer.vocab["a"], tokenizer.vocab["wonder"], tokenizer.vocab["##ful"],
                                      tokenizer.vocab["film"], 3]
    np.testing.assert_allclose(pool[0, 1, 2:4], [0.5, 0.5])
    np.testing.assert_allclose(pool.sum(axis=2), [[1, 1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]])
    assert packed.shape == (2, 8, 6) and packed[:, :, 0].sum() == 5
    assert packed[0, 1, 1] == pytest.approx(0.7) and packed[1, 1, 2] == 1  # valence; "dull" in the scope of "not"
    first = PieceInputs(tokenizer, pooling="first").arrays(encoded[:1])[2]
    assert first[0, 1, 2] == 1 and first[0, 1, 3] == 0


def test_the_encoder_model_learns_and_answers_like_every_bundle(encoder_bundle):
    files = sorted(p.name for p in encoder_bundle.resolve().iterdir())
    assert files == ["config.json", "lexicon.json", "manifest.json", "metrics.json", "weights.params",
                     "wordpiece_vocab.txt"]
    predictor = Predictor.load(encoder_bundle)
    assert predictor.config["model"]["encoder"] == "minilm" and predictor.vocab is None
    assert predictor.predict(["what a wonderful film , superb !", "a dull , tedious script ."]) == [
        "positive", "negative"]
    assert json.loads((encoder_bundle / "metrics.json").read_text())["dev_accuracy"] >= 0.9
    results = predictor.explain(["the plot is wonderful :)", "zebra , the ending is dull"], contributions=True)
    assert results[0]["tokens"] == ["the", "plot", "is", "wonderful", ":)"] and results[1]["unknown_tokens"] == [
        "zebra"]
    assert results[0]["attention"].shape == (5, 5) and abs(results[0]["attention"].sum() - 1) < 1e-5
    check_sums(results)
    answer = predictor.explain(["The cast is lovely. But the plot is stale."])[0]
    assert [s["text"] for s in answer["sentences"]] == ["The cast is lovely.", "But the plot is stale."]


def test_same_seed_same_encoder_model(tmp_path, labelled_files, tiny_encoder):
    versions = [fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / name),
                                seed=5, encoder_path=str(tiny_encoder), **dict(SMALL_ENCODER, epochs=1)),
                    log=lambda m: None)[0] for name in "ab"]
    assert versions[0] == versions[1]


def test_frozen_layers_stay_as_pretrained(tmp_path, labelled_files, tiny_encoder):
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / "m"), seed=5,
                    encoder_path=str(tiny_encoder), freeze_layers=1, **dict(SMALL_ENCODER, epochs=1)),
        log=lambda m: None)
    trained = Predictor.load(tmp_path / "m").model.words.bert._collect_params_with_prefix()
    pretrained_bert = bert_from(tiny_encoder)._collect_params_with_prefix()
    for name, kept in (("encoder.transformer_cells.0.ffn.ffn_1.weight", True), ("word_embed.0.weight", True),
                       ("encoder.transformer_cells.1.ffn.ffn_1.weight", False)):
        same = np.array_equal(trained[name].data().asnumpy(), pretrained_bert[name].data().asnumpy())
        assert same is kept, name


@pytest.mark.parametrize("freeze", [False, True])
def test_the_piece_embeddings_learn_unless_frozen(tmp_path, labelled_files, tiny_encoder, freeze):
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / "m"), seed=5,
                    encoder_path=str(tiny_encoder), freeze_embeddings=freeze, **dict(SMALL_ENCODER, epochs=1)),
        log=lambda m: None)
    trained = Predictor.load(tmp_path / "m").model.words.bert._collect_params_with_prefix()
    pretrained_bert = bert_from(tiny_encoder)._collect_params_with_prefix()
    for name, kept in (("word_embed.0.weight", freeze), ("encoder.layer_norm.gamma", False),
                       ("encoder.transformer_cells.0.ffn.ffn_1.weight", False)):
        same = np.array_equal(trained[name].data().asnumpy(), pretrained_bert[name].data().asnumpy())
        assert same is kept, name


def test_two_classes_stay_two_on_the_encoder(tmp_path, tiny_encoder):
    from tests.helpers import make_reviews

    train = write_jsonl(tmp_path / "train.jsonl", make_reviews(120, seed=4, labels=("bad", "good")))
    fit(TrainConfig(data=str(train), out=str(tmp_path / "m"), encoder_path=str(tiny_encoder),
                    **dict(SMALL_ENCODER, epochs=2)), log=lambda m: None)
    predictor = Predictor.load(tmp_path / "m")
    assert predictor.labels == ["bad", "good"] and predictor.predict_proba(["a dull plot ."]).shape == (1, 2)


def test_set_up_refuses_an_encoder_wheel_that_does_not_match(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with zipfile.ZipFile(cache / pretrained.WHEEL, "w") as archive:
        for name in pretrained.FILES:
            archive.writestr(pretrained.MEMBER_DIR + name, b"not the model")
    with pytest.raises(DataError, match="does not match the recorded"):
        pretrained.prepare_encoder(tmp_path)
    assert not pretrained.is_prepared(tmp_path)


def test_unpacked_files_are_verified_on_every_use(tmp_path):
    folder = pretrained.encoder_dir(tmp_path)
    folder.mkdir()
    source = pretrained.prepare_encoder()
    for name in pretrained.FILES:
        shutil.copyfile(source / name, folder / name)
    (folder / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(DataError, match="vocab.txt: SHA-256"):
        pretrained.prepare_encoder(tmp_path)


def test_the_service_scorer_and_dask_serve_the_encoder_model(encoder_bundle, tmp_path):
    """Every shell runs the encoder model through the one prediction path: gunicorn, the CLI scorer and Dask."""
    import requests

    from tests.helpers import Gunicorn, run_cli

    server = Gunicorn(encoder_bundle, log_path=tmp_path / "gunicorn.log").wait("/ready")
    try:
        answer = requests.post(server.url + "/predict", json={"text": "What a wonderful film! The plot is stale.",
                                                                "contributions": True}, timeout=30).json()
        assert [s["label"] for s in answer["sentences"]] == ["positive", "negative"]
        assert answer["sentences"][0]["tokens"] == ["what", "a", "wonderful", "film", "!"]
        pairs = answer["sentences"][0]["top_pairs"]  # the weighed pairs only: sparsemax gives the others 0
        assert 1 <= len(pairs) <= 5 and all(p["attention"] > 0 for p in pairs) and "attention" in answer["sentences"][1]
        info = requests.get(server.url + "/model", timeout=30).json()
        assert info["encoder"] == "minilm" and info["config"]["model"]["encoder_sizes"]["units"] == 16
    finally:
        server.stop()
    (tmp_path / "in.txt").write_text("what a wonderful film , superb !\n\na dull , tedious script .\n")
    outputs = []
    for extra in ((), ("--dask", "local:1")):
        out = tmp_path / f"out{len(outputs)}.jsonl"
        run_cli("score", tmp_path / "in.txt", "--model", encoder_bundle, "--out", out, "--no-progress", *extra)
        outputs.append([json.loads(line) for line in open(out, encoding="utf-8")])
    assert [r.get("label") for r in outputs[0]] == ["positive", None, "negative"]
    assert outputs[0] == outputs[1]


def test_the_ablation_without_the_relation_network_trains_and_explains(tmp_path, labelled_files, tiny_encoder):
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / "m"), seed=5,
                    encoder_path=str(tiny_encoder), relation=False, **dict(SMALL_ENCODER, epochs=2)),
        log=lambda m: None)
    result = Predictor.load(tmp_path / "m").explain(["the plot is wonderful"], contributions=True)[0]
    np.testing.assert_allclose(result["attention"], np.eye(4) / 4, atol=1e-6)  # the mean over words
    check_sums([result])


def test_the_serving_layout_follows_the_bundles_encoder(encoder_bundle, small_bundle, tmp_path):
    from sentiment.inference.kinds import serving_layout

    assert serving_layout(encoder_bundle, 2) == (1, 32)
    assert serving_layout(small_bundle, 2) == (2, 4) and serving_layout(tmp_path / "absent", 4) == (4, 4)
