import os

import mxnet as mx
import pytest

from sentiment.inference import device
from sentiment.runtime import openblas_core
from tests.helpers import probe


@pytest.mark.parametrize("gpus, spec, expected", [
    (0, None, mx.cpu()), (0, "auto", mx.cpu()), (2, None, mx.gpu(0)), (0, "cpu", mx.cpu()), (1, "gpu", mx.gpu(0)),
    (2, "gpu:1", mx.gpu(1)), (2, " GPU:1 ", mx.gpu(1)),
])
def test_device_choice(monkeypatch, gpus, spec, expected):
    monkeypatch.setattr(device, "gpu_count", lambda: gpus)
    assert device.resolve_device(spec) == expected


@pytest.mark.parametrize("gpus, spec", [(0, "gpu"), (1, "gpu:1"), (0, "gpu:0")])
def test_gpu_asked_for_but_absent_is_an_error(monkeypatch, gpus, spec):
    monkeypatch.setattr(device, "gpu_count", lambda: gpus)
    with pytest.raises(device.DeviceError, match=f"MXNet sees {gpus} GPU"):
        device.resolve_device(spec)


@pytest.mark.parametrize("spec", ["tpu", "gpu:x", "cpu:1", "gpu:-1"])
def test_malformed_device(spec):
    with pytest.raises(device.DeviceError, match="must be 'cpu', 'gpu', 'gpu:N'"):
        device.resolve_device(spec)


def test_this_machine_without_a_gpu_runs_on_cpu():
    if device.gpu_count():
        pytest.skip("a GPU is present")
    assert device.describe(device.resolve_device(None)) == "cpu"


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 fma avx512f avx512bw", "SkylakeX"), ("fpu sse2 avx avx2 fma", "Haswell"), ("fpu sse2 sse3", None),
])
def test_benchmarks_pick_openblas_kernels_from_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert openblas_core(str(cpuinfo)) == expected
    assert openblas_core(str(tmp_path / "absent")) is None


def test_importing_sentiment_sets_mxnet_defaults_but_keeps_the_users():
    names = ("OMP_NUM_THREADS", "MXNET_MKLDNN_CACHE_NUM", "MXNET_CPU_PARALLEL_SIZE")
    code = f"import json, os, sentiment; print(json.dumps([os.environ[name] for name in {names}]))"
    assert probe(code, **dict.fromkeys(names)) == [str(len(os.sched_getaffinity(0))), "128", str(2**31 - 1)]
    users = dict(OMP_NUM_THREADS="1", MXNET_MKLDNN_CACHE_NUM="7", MXNET_CPU_PARALLEL_SIZE="1000")
    assert probe(code, **users) == ["1", "7", "1000"]


def test_large_numpy_copies_start_no_second_openmp_team():
    """A second team would leave more OpenMP threads than cores, and libgomp would stop spinning (slower)."""
    code = ("import json, os, sentiment, mxnet as mx, numpy as np\n"
            "threads = lambda: len(os.listdir('/proc/self/task'))\n"
            "w = mx.nd.ones((512, 512)); mx.nd.FullyConnected(w, w, no_bias=True, num_hidden=512).wait_to_read()\n"
            "before = threads(); mx.nd.zeros((1 << 20,)).asnumpy(); mx.nd.array(np.zeros(1 << 20))\n"
            "print(json.dumps([before, threads()]))")
    before, after = probe(code, OMP_NUM_THREADS="2", MXNET_CPU_PARALLEL_SIZE=None)
    assert after == before
    # MXNet's own default: the copy starts a team (so the test can fail)
    before, after = probe(code, OMP_NUM_THREADS="2", MXNET_CPU_PARALLEL_SIZE="200000")
    assert after > before
