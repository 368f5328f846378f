import mxnet as mx
import pytest

from sentiment import device


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
