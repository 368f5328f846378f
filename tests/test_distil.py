"""Distillation: the transfer set, the teacher's cached labels as the student's targets, and the student bundle."""
import random

import numpy as np
import pytest

from sentiment.cli import build_parser
from sentiment.inference.predictor import Predictor
from sentiment.training.config import TrainConfig
from sentiment.training.distil import MASK, TeacherLabels, detokenize, soften, teacher_words, variants
from sentiment.training.fit import fit, teach
from sentiment.training.prepare import prepare_data
from tests.conftest import SMALL

TOKENS = "the battery life is amazing and the screen is bright".split()
NEIGHBOURS = {"amazing": ("great", "superb"), "bright": ("dim",), "screen": ("display",)}


def test_variants_are_seeded_distinct_and_made_only_of_the_named_operations():
    every = variants(TOKENS, random.Random("7:0"), ("mask", "swap", "ngram"), NEIGHBOURS, count=30)
    assert every == variants(TOKENS, random.Random("7:0"), ("mask", "swap", "ngram"), NEIGHBOURS, count=30)
    assert len({tuple(v) for v in every}) == len(every) and tuple(TOKENS) not in {tuple(v) for v in every}
    assert any(MASK in v for v in every) and any("great" in v or "superb" in v for v in every)
    windows = [v for v in every if len(v) < len(TOKENS)]
    assert windows and all(1 <= len(v) <= 5 for v in windows)
    masked = variants(TOKENS, random.Random("7:0"), ("mask",), NEIGHBOURS, count=30)
    assert masked and all(len(v) == len(TOKENS) and all(w in (t, MASK) for w, t in zip(v, TOKENS)) for v in masked)
    assert variants(TOKENS, random.Random("7:0"), (), NEIGHBOURS, count=30) == []


def test_the_teacher_reads_student_tokens_as_written_with_masks_as_its_mask_piece(encoder_bundle):
    teacher = Predictor.load(encoder_bundle)
    assert detokenize(["i", "do", "n't", "like", "it", "'s", "end", "."]) == "i don't like it's end ."
    words = teacher_words(teacher, ["i", "do", "n't", "like", MASK, "it"])
    assert words == teacher.tokenizer.split("i don't like") + [MASK, "it"]
    assert teacher.inputs.encode(words).pieces[3] == (teacher.tokenizer.vocab["[MASK]"],)
    assert teacher.tokenizer("[MASK]")[0] != [MASK]  # a user's text never yields the mask piece


def test_the_students_targets_are_the_teachers_cached_answers(tmp_path, labelled_files, encoder_bundle):
    config = TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / "fast"),
                         teacher=str(encoder_bundle), teacher_cache=str(tmp_path / "cache"), transfer_variants=3,
                         transfer=("mask", "ngram"), label_weight=0.0, counterfactual_label_weight=0.0,
                         distil_temperature=2.0, seed=3, **SMALL)
    log = lambda message: None  # noqa: E731
    prepared = prepare_data(config, log)
    taught = teach(config, prepared, log)
    n = len(prepared.train_tokens)
    assert 2 * n < len(taught.train_tokens) == len(taught.train_ids) == len(taught.train_targets)
    teacher = Predictor.load(encoder_bundle)
    sample = list(range(n - 5, n + 20))  # training rows and transfer rows alike: label weights 0 keep only the teacher
    probabilities = teacher.predict_proba([detokenize(taught.train_tokens[i]) for i in sample
                                           if MASK not in taught.train_tokens[i]])
    expected = soften(np.log(probabilities), 2.0)
    got = taught.train_targets[[i for i in sample if MASK not in taught.train_tokens[i]]]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert taught.sources["distillation"]["labelled"] == len({tuple(t) for t in taught.train_tokens})
    again = TeacherLabels(teacher, tmp_path / "cache")  # a second run labels nothing
    again([taught.train_tokens[i] for i in sample])
    assert again.labelled == 0 and again.cached == len(sample)


def test_a_distilled_bundle_answers_like_any_other(tmp_path, labelled_files, encoder_bundle):
    config = TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(tmp_path / "fast"),
                         teacher=str(encoder_bundle), teacher_cache=str(tmp_path / "cache"), transfer_variants=2,
                         seed=3, **SMALL)
    _, metrics = fit(config, log=lambda message: None)
    assert metrics["data"]["distillation"]["cached"] == 0
    student = Predictor.load(tmp_path / "fast")
    assert "encoder" not in student.config["model"]  # the fast model's own graph
    answer = student.explain(["what a gripping story !"], contributions=True)[0]
    assert answer["label"] in ("negative", "positive") and answer["attention"].shape == (5, 5)
    log_odds = np.log(answer["probabilities"][answer["label"]] / answer["probabilities"][answer["runner_up"]])
    assert answer["contributions"].sum() + answer["contribution_bias"] == pytest.approx(log_odds, abs=1e-4)
    review = student.explain(["what a gripping story ! the ending is dull ."])[0]
    assert [s["text"] for s in review["sentences"]] == ["what a gripping story !", "the ending is dull ."]


def test_distil_command_defaults_and_refusals():
    args = build_parser().parse_args(["distil"])
    assert (args.teacher, args.out, args.encoder) == ("models/default", "models/fast", "glove")
    with pytest.raises(ValueError, match="teacher is for a kind with its own embedding"):
        TrainConfig(encoder="minilm", teacher="models/default")
    with pytest.raises(ValueError, match="transfer must hold only"):
        TrainConfig(encoder="glove", teacher="models/default", transfer=("rotate",))
