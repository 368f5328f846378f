"""Choosing MXNet's context: 'cpu', 'gpu', 'gpu:N', or None/'auto' for a GPU when MXNet sees one."""
import re

import mxnet as mx

_SPEC = re.compile(r"^(cpu|gpu)(?::(\d+))?$")


class DeviceError(Exception):
    """A device was asked for that this machine does not have, or the spec is malformed."""


def gpu_count():
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:
        return 0


def resolve_device(spec=None):
    """Return the mx.Context for `spec`. A GPU asked for but absent is an error, never a silent fallback."""
    if spec in (None, "", "auto"):
        return mx.gpu(0) if gpu_count() > 0 else mx.cpu()
    match = _SPEC.match(str(spec).strip().lower())
    if not match or (match.group(1) == "cpu" and match.group(2) not in (None, "0")):
        raise DeviceError(f"device must be 'cpu', 'gpu', 'gpu:N' or 'auto', got {spec!r}")
    if match.group(1) == "cpu":
        return mx.cpu()
    index = int(match.group(2) or 0)
    available = gpu_count()
    if index >= available:
        raise DeviceError(f"device {spec!r} was asked for, but MXNet sees {available} GPU(s) "
                          "(is an mxnet-cuXXX wheel installed and a GPU visible?)")
    return mx.gpu(index)


def describe(ctx):
    return f"{ctx.device_type}:{ctx.device_id}" if ctx.device_type == "gpu" else "cpu"
