import collections
import json
import shutil

import numpy as np
import pytest

from sentiment.checksums import sha256_file
from sentiment.corpora.labelled import load_labelled
from sentiment.evaluation.metrics import calibrated_ece_floor, expected_calibration_error, fit_temperature
from sentiment.inference import bundle
from sentiment.inference.bundle import BundleError
from sentiment.inference.predictor import Predictor, log_softmax
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from sentiment.training.prepare import row_weights, soft_targets, source_weights
from tests.conftest import SMALL
from tests.helpers import make_reviews, run_cli, write_jsonl


def test_small_model_learns_and_bundle_holds_everything(small_bundle, labelled_files):
    files = sorted(p.name for p in small_bundle.resolve().iterdir())
    assert files == ["config.json", "manifest.json", "metrics.json", "vocab.json", "weights.params"]
    predictor = Predictor.load(small_bundle)
    assert predictor.labels == ["negative", "positive"] and predictor.device == "cpu"
    assert predictor.predict(["what a wonderful film , superb !", "a dull , tedious script ."]) == [
        "positive", "negative"]
    metrics = json.loads((small_bundle / "metrics.json").read_text())
    assert metrics["dev_accuracy"] >= 0.9
    assert metrics["data"]["train"][0]["sha256"] == sha256_file(labelled_files[0])
    config = json.loads((small_bundle / "config.json").read_text())
    assert config["tokenizer"]["max_len"] == 24
    assert 0.5 <= config["temperature"] <= 20 and config["model"]["negation"] is config["model"]["clauses"] is True


def test_loaded_bundle_tokenizes_as_training_did(small_bundle):
    predictor = Predictor.load(small_bundle)
    tokens, truncated = predictor.tokenize(" ".join(["word"] * 30))
    assert len(tokens) == 24 and truncated
    result = predictor.explain(["the plot is lovely :)"])[0]
    assert result["tokens"] == ["the", "plot", "is", "lovely", ":)"]
    assert result["attention"].shape == (5, 5) and abs(result["attention"].sum() - 1) < 1e-5
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-5


def test_same_seed_same_model(tmp_path, labelled_files):
    versions = []
    for name in ("a", "b"):
        version, _ = fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / name),
                                     seed=11, **dict(SMALL, epochs=2)), log=lambda m: None)
        versions.append(version)
    a, b = (Predictor.load(tmp_path / n) for n in "ab")
    np.testing.assert_array_equal(a.predict_proba(["a fresh plot ."]), b.predict_proba(["a fresh plot ."]))
    assert versions[0] == versions[1]


@pytest.mark.parametrize("damage, message", [
    ("flip", "weights.params is corrupted"),
    ("missing", "vocab.json is missing"),
    ("manifest", "config.json is corrupted"),
    ("no_manifest", "manifest.json is missing"),
])
def test_corrupted_bundle_is_refused(tmp_path, small_bundle, damage, message):
    broken = tmp_path / "broken"
    shutil.copytree(small_bundle.resolve(), broken)
    if damage == "flip":
        raw = bytearray((broken / "weights.params").read_bytes())
        raw[len(raw) // 2] ^= 0x01
        (broken / "weights.params").write_bytes(bytes(raw))
    elif damage == "missing":
        (broken / "vocab.json").unlink()
    elif damage == "manifest":
        manifest = json.loads((broken / "manifest.json").read_text())
        manifest["files"]["config.json"] = "0" * 64
        (broken / "manifest.json").write_text(json.dumps(manifest))
    else:
        (broken / "manifest.json").unlink()
    with pytest.raises(BundleError, match=message):
        Predictor.load(broken)
    result = run_cli("predict", "--model", broken, "nice", check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_failed_save_leaves_the_previous_bundle_intact(tmp_path, small_bundle):
    out = tmp_path / "model"
    shutil.copytree(small_bundle.resolve(), tmp_path / "v1")
    bundle.point(out, tmp_path / "v1")

    def crash(path):
        open(path, "wb").write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bundle.save(out, crash, "{}", {}, {})
    assert bundle.verify(out)["version"] == bundle.verify(small_bundle)["version"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]


def test_cli_train_evaluate_predict(tmp_path, labelled_files):
    csv_path = tmp_path / "mine.csv"
    rows = make_reviews(160, seed=5, labels=(0, 1))
    csv_path.write_text("review,stars\n" + "".join(f"\"{r['text']}\",{r['label']}\n" for r in rows) + "oops\n")
    dev = write_jsonl(tmp_path / "dev.jsonl", [{"review": r["text"], "stars": r["label"]} for r in make_reviews(40, 6, (0, 1))])
    out = tmp_path / "cli-model"
    result = run_cli("train", "--data", csv_path, "--dev", dev, "--out", out, "--epochs", 3, "--encoder", "glove", "--embeddings", "random",
                     "--embed-size", 8, "--hidden-size", 8, "--classifier-size", 8, "--lr", 0.01, "--text-field",
                     "review", "--label-field", "stars", "--no-progress")
    assert f"{csv_path}:162: skipped: expected 2 columns, got 1" in result.stderr
    assert "no negation counterfactuals: they need the labels ['negative', 'positive']" in result.stderr
    assert (out / "manifest.json").exists()
    strict = run_cli("train", "--data", csv_path, "--dev", dev, "--out", tmp_path / "x", "--text-field", "review",
                     "--label-field", "stars", "--encoder", "glove", "--embeddings", "random", "--strict", "--no-progress", check=False)
    assert strict.returncode == 2 and "mine.csv:162" in strict.stderr and not (tmp_path / "x").exists()
    report = json.loads(run_cli("evaluate", "--model", out, "--data", dev, "--text-field", "review",
                                "--label-field", "stars").stdout)
    assert set(report) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert report["n"] == 40 and sum(map(sum, report["confusion_matrix"]["rows_true_columns_predicted"])) == 40
    printed = run_cli("predict", "--model", out, "superb acting", "--plot", tmp_path / "p.png", "--contributions").stdout
    answer = json.loads(printed)
    assert answer["label"] in ("0", "1") and answer["tokens"] == ["superb", "acting"]
    assert list(answer)[:3] == ["label", "probabilities", "score"]
    assert list(answer)[-3:] == ["attention", "contributions", "sentences"]
    assert len(answer["contributions"]) == 2 and len(answer["top_pairs"]) == 4  # 2 x 2 pairs, fewer than 5
    assert len(answer["attention"]) == 2 and all(len(row) == 2 for row in answer["attention"])
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_options_are_validated():
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="embed_size must be 50 with GloVe"):
        TrainConfig(encoder="glove", embed_size=10)
    with pytest.raises(ValueError, match="negation needs lexicon=True"):
        TrainConfig(lexicon=False)
    with pytest.raises(ValueError, match="clauses needs lexicon=True"):
        TrainConfig(lexicon=False, negation=False)
    with pytest.raises(ValueError, match="balance must be in"):
        TrainConfig(balance=2)
    with pytest.raises(ValueError, match="encoder must be one of"):
        TrainConfig(encoder="bert")
    with pytest.raises(ValueError, match="embeddings='random' is for a kind with its own embedding"):
        TrainConfig(embeddings="random")
    with pytest.raises(ValueError, match="word_pooling must be"):
        TrainConfig(word_pooling="max")
    with pytest.raises(ValueError, match="counterfactual_weight must be >= 0"):
        TrainConfig(counterfactual_weight=-1)
    assert (TrainConfig().optimisation.epochs, TrainConfig(encoder="glove").optimisation.epochs) == (3, 10)
    assert (TrainConfig().augmentation.counterfactual_weight,
            TrainConfig(encoder="glove").augmentation.counterfactual_weight) == (2, 1)


def test_several_files_and_directories_each_have_their_say(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    write_jsonl(folder / "films.jsonl", make_reviews(200, seed=21))
    write_jsonl(folder / "gadgets.jsonl", make_reviews(40, seed=22))
    (folder / "notes.md").write_text("not data")
    dev_a = write_jsonl(tmp_path / "dev-a.jsonl", make_reviews(30, seed=23))
    dev_b = write_jsonl(tmp_path / "dev-b.jsonl", make_reviews(30, seed=24))
    config = TrainConfig(data=str(folder), dev=[str(dev_a), str(dev_b)], out=str(tmp_path / "m"), **SMALL)
    assert [p.rsplit("/", 1)[1] for p in config.data.data] == ["films.jsonl", "gadgets.jsonl"]
    _, metrics = fit(config, log=lambda m: None)
    assert [d["name"] for d in metrics["data"]["train"]] == ["films", "gadgets"]
    assert sorted(metrics["dev_per_source"]) == ["dev-a", "dev-b"]
    per_epoch = metrics["history"][0]
    assert per_epoch["dev_accuracy"] == pytest.approx(np.mean(list(per_epoch["dev_per_source"].values())), abs=1e-5)
    weights = source_weights(["a"] * 200 + ["b"] * 40, balance=0.5)
    assert weights.mean() == pytest.approx(1) and weights[-1] / weights[0] == pytest.approx(5 ** 0.5, rel=1e-5)


def test_negation_counterfactuals_weigh_what_they_are_given():
    sources, labels = ["a", "a", "b", "b"], [0, 2, 0, 2]
    counterfactual = np.array([False, True, False, True])
    plain = row_weights(sources, labels, np.zeros(4, bool), TrainConfig())
    assert np.array_equal(row_weights(sources, labels, counterfactual, TrainConfig(counterfactual_weight=1)), plain)
    weighted = row_weights(sources, labels, counterfactual, TrainConfig(counterfactual_weight=3.0))
    assert np.allclose(weighted, plain * [1, 3, 1, 3])


def test_without_dev_a_part_of_the_users_data_is_held_out(tmp_path):
    messages = []
    data = write_jsonl(tmp_path / "mine.jsonl", make_reviews(200, seed=31))
    _, metrics = fit(TrainConfig(data=str(data), out=str(tmp_path / "m"), **SMALL), log=messages.append)
    assert any("holding out 10% of each --data file as dev" in m for m in messages)
    added = [int(m.split()[2]) for m in messages if m.startswith("negation counterfactuals: ")]
    assert len(added) == 1 and added[0] > 0  # "the plot is dull ." -> "the plot is not dull .", positive
    assert metrics["data"]["dev"][0]["path"] == str(data) and metrics["data"]["dev"][0]["rows"] == 20
    assert metrics["data"]["train"][0]["rows"] == 180
    assert any(m.startswith("kept the average of epochs") or m.startswith("kept the best single epoch")
               for m in messages)


def test_bad_rows_are_summarised_after_the_first_few(tmp_path):
    lines = [json.dumps({"text": f"fine {i}", "label": "positive"}) for i in range(3)]
    lines += [json.dumps({"review": "no text field"})] * 30 + [json.dumps({"text": "", "label": "positive"})] * 4
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    messages = []
    assert len(load_labelled(path, report=messages.append).texts) == 3
    assert len(messages) == 6 and messages[0].startswith(f"{path}:4: skipped:")
    assert messages[-1] == f"{path}: 34 rows skipped in all: 30 x missing 'text', 'label'; 4 x empty text"


def test_temperature_is_fitted_and_calibration_error_measured():
    rng = np.random.RandomState(0)
    logits = rng.normal(0, 4, (4000, 2))
    true = (rng.random_sample(4000) < 1 / (1 + np.exp(-(logits[:, 1] - logits[:, 0]) / 2.5))).astype(int)
    assert fit_temperature(logits, true) == pytest.approx(2.5, rel=0.15)
    calibrated = np.exp(log_softmax(logits / 2.5))
    assert expected_calibration_error(calibrated, true) < 0.03 < expected_calibration_error(np.exp(log_softmax(logits)),
                                                                                           true)


def test_the_ece_floor_grows_as_the_sample_shrinks():
    """A perfectly calibrated model's ECE is sampling noise: about 1 / sqrt(n) of it."""
    rng = np.random.RandomState(1)
    positive = rng.uniform(0.5, 1.0, 4000)
    probabilities = np.stack([1 - positive, positive], axis=1)
    large, small = calibrated_ece_floor(probabilities), calibrated_ece_floor(probabilities[:250])
    assert 0.005 < large < 0.02 < small < 0.08
    true = (rng.random_sample(4000) < positive).astype(int)  # labels drawn from the confidences
    assert expected_calibration_error(probabilities, true) < 2 * large


@pytest.mark.parametrize("options", [{}, {"positions": 8, "attention_scale": 8.0, "token_features": True,
                                           "negation": True}], ids=["no options", "before clauses"])
def test_a_bundle_from_before_the_structure_options_still_loads(tmp_path, options):
    """Older bundles lack the later options (and the first ones a temperature): they load without them.

    No options at all is the article's structure; a bundle from before the clause flags has a
    three-column token table. Neither knows the emoticons or mentions settings, so both split
    emoticons and keep mentions.
    """
    import gluonnlp as nlp
    import mxnet as mx

    from sentiment.inference.kinds import kind_of
    from sentiment.text.tokenizer import Tokenizer

    vocab = nlp.Vocab(collections.Counter(["good", "bad"]), bos_token=None, eos_token=None)
    tokenizer = {k: v for k, v in Tokenizer(max_len=16).to_dict().items() if k not in ("emoticons", "drop_mentions")}
    config = {"labels": ["negative", "positive"], "tokenizer": tokenizer,
              "model": {"embed_size": 8, "hidden_size": 8, "classifier_size": 8, "dropout": 0.0, **options}}
    model = kind_of(config).model(config, len(vocab))
    model.initialize(mx.init.Xavier())
    model(mx.nd.ones((1, 8)), mx.nd.ones((1, 8)))
    bundle.save(tmp_path / "old", model.save_parameters, vocab.to_json(), config, {})
    predictor = Predictor.load(tmp_path / "old")
    assert predictor.temperature == 1.0
    assert predictor.explain(["not good"])[0]["attention"].shape == (2, 2)
    assert predictor.tokenize("good :) @bob")[0] == ["good", ":", ")", "@", "bob"]
    if options:
        assert predictor.model.encoder.token_table.weight.shape == (len(vocab), 3)


def test_soft_targets_put_the_confidence_on_the_label():
    targets = soft_targets([1, 0, 2], [0.9, 1.0, 0.6], num_classes=3)
    np.testing.assert_allclose(targets, [[0.05, 0.9, 0.05], [1, 0, 0], [0.2, 0.2, 0.6]], rtol=1e-6)


def test_confidences_change_training_and_averaging_is_recorded(tmp_path, labelled_files):
    rows = [json.loads(line) for line in labelled_files[0].read_text().splitlines()]
    for i, row in enumerate(rows):
        row["certainty"] = 0.6 if i % 2 else 1.0
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    metrics = {}
    for field in ("certainty", None):
        _, metrics[field] = fit(TrainConfig(data=str(train), dev=str(labelled_files[1]), out=str(tmp_path / str(field)),
                                            seed=5, confidence_field=field, **dict(SMALL, epochs=4)),
                                log=lambda m: None)
    soft, hard = (metrics[f]["history"] for f in ("certainty", None))
    assert soft[-1]["train_loss"] > hard[-1]["train_loss"] + 0.1  # soft targets cannot be fitted to zero loss
    for m in metrics.values():
        best = max(m["history"], key=lambda h: (h["dev_accuracy"], -h["epoch"]))
        assert m["best_epoch"] == best["epoch"] and 1 <= len(m["epochs_averaged"]) <= 3
        assert m["dev_accuracy"] >= best["dev_accuracy"]  # averaging is kept only when dev agrees


def test_a_log_gets_one_line_per_epoch_and_says_what_was_kept(tmp_path, labelled_files):
    result = run_cli("train", "--data", labelled_files[0], "--dev", labelled_files[1], "--out", tmp_path / "m",
                     "--epochs", 3, "--encoder", "glove", "--embeddings", "random", "--embed-size", 8, "--hidden-size", 8,
                     "--classifier-size", 8, "--no-lexicon", "--no-emoticons", "--keep-mentions")  # stderr: a pipe
    assert "\r" not in result.stderr
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    options = config["model"]
    assert options["token_features"] is options["negation"] is options["clauses"] is False  # --no-lexicon implies
    assert config["tokenizer"]["emoticons"] is config["tokenizer"]["drop_mentions"] is False
    assert [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("epoch ")] == [
        "epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert any(line.startswith(("kept the average of epochs", "kept the best single epoch"))
               for line in result.stderr.splitlines())


def test_a_rating_field_trains_a_head_that_answers_the_score(tmp_path):
    rows = make_reviews(240, seed=21)
    for row in rows:
        row["rating"] = 2.0 if row["label"] == "positive" else -2.5
    train, dev = write_jsonl(tmp_path / "train.jsonl", rows[:200]), write_jsonl(tmp_path / "dev.jsonl", rows[200:])
    fit(TrainConfig(data=str(train), dev=str(dev), out=str(tmp_path / "m"), rating_field="rating",
                    **dict(SMALL, epochs=8)), log=lambda m: None)
    predictor = Predictor.load(tmp_path / "m")
    assert predictor.model.rating_head and predictor.config["model"]["rating_head"] is True
    good, bad = predictor.explain(["a superb , lovely film .", "a dull , awful film ."])
    assert -1 <= bad["score"] < 0 < good["score"] <= 1  # read from the head, not from the probabilities
    assert good["score"] != pytest.approx(good["probabilities"]["positive"] - good["probabilities"]["negative"])
    without = TrainConfig(data=str(train), dev=str(dev), out=str(tmp_path / "n"))
    assert without.data.rating_field == ""  # your files get a head only when you name the field


def test_a_bundle_names_its_optional_heads_and_a_reader_refuses_one_it_does_not_know(small_bundle, tmp_path):
    import shutil

    loaded = bundle.read(small_bundle)
    config = dict(loaded.config, heads={"sarcasm": {"file": "sarcasm.params"}})
    bundle.save(tmp_path / "headed", lambda p: shutil.copyfile(loaded.weights, p), loaded.vocab_json, config, {})
    with pytest.raises(BundleError, match=r"heads \['sarcasm'\] that this version cannot answer with"):
        Predictor.load(tmp_path / "headed")
    config["heads"] = {}
    bundle.save(tmp_path / "plain", lambda p: shutil.copyfile(loaded.weights, p), loaded.vocab_json, config, {})
    assert Predictor.load(tmp_path / "plain").predict(["a lovely film"])
