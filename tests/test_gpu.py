"""On a GPU (skipped elsewhere): training, serving and contributions on MXNet's GPU context agree with the CPU.

bench/gpu/device.sh runs these on the GPU machine.
"""
import mxnet as mx
import numpy as np
import pytest

from sentiment.inference.device import gpu_count
from sentiment.inference.forward import GraphForward
from sentiment.inference.predictor import Predictor
from sentiment.training.config import TrainConfig
from sentiment.training.fit import fit
from tests.conftest import SMALL

pytestmark = pytest.mark.skipif(gpu_count() == 0, reason="needs a GPU that MXNet sees (bench/gpu/README.md)")
TEXTS = ["the script is not dull , but the ending is awful .", "a lovely film", "although bland , it is superb"]


def test_training_on_the_gpu_gives_a_model_the_cpu_serves_alike(labelled_files, tmp_path):
    out = tmp_path / "gpu-model"
    fit(TrainConfig(data=str(labelled_files[0]), dev=str(labelled_files[1]), out=str(out), device="gpu", **SMALL),
        log=lambda message: None)
    on_gpu, on_cpu = Predictor.load(out, "gpu"), Predictor.load(out, "cpu")
    assert on_gpu.device == "gpu:0" and on_cpu.device == "cpu"
    for got, want in zip(on_gpu.explain(TEXTS, contributions=True), on_cpu.explain(TEXTS, contributions=True)):
        assert got["label"] == want["label"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-4)
        np.testing.assert_allclose(got["contributions"], want["contributions"], atol=1e-4)


def test_the_served_pass_matches_the_training_graph_on_the_gpu(small_bundle):
    predictor = Predictor.load(small_bundle, "gpu")
    served = predictor.explain(TEXTS, contributions=True)
    predictor.forward = GraphForward(predictor.model, predictor.ctx)
    for got, want in zip(served, predictor.explain(TEXTS, contributions=True)):
        assert got["label"] == want["label"]
        np.testing.assert_allclose(got["attention"], want["attention"], atol=1e-5)
        np.testing.assert_allclose(got["contributions"], want["contributions"], atol=1e-5)


def test_a_whole_review_on_the_gpu(small_bundle):
    answer = Predictor.load(small_bundle, "gpu").explain(["the script is dull . what a wonderful cast !"])[0]
    assert len(answer["sentences"]) == 2 and mx.context.num_gpus() >= 1


def test_an_encoder_model_answers_alike_on_the_gpu_and_the_cpu(encoder_bundle):
    """The fused attention, the relation network and the exact contributions on the GPU, against the CPU."""
    on_gpu, on_cpu = Predictor.load(encoder_bundle, "gpu"), Predictor.load(encoder_bundle, "cpu")
    for got, want in zip(on_gpu.explain(TEXTS, contributions=True), on_cpu.explain(TEXTS, contributions=True)):
        assert got["label"] == want["label"] and got["tokens"] == want["tokens"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-4)
        np.testing.assert_allclose(got["contributions"], want["contributions"], atol=1e-4)
