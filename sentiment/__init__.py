"""Relation-network self-attention sentiment classifier on MXNet/Gluon.

Every prediction carries its T x T word-pair attention matrix.
"""
import os


def openblas_core(cpuinfo="/proc/cpuinfo"):
    """The OpenBLAS kernel set for this CPU, or None to leave OpenBLAS's own detection.

    The OpenBLAS inside the mxnet 1.9.1 wheel predates recent Xeons and falls back to its
    SSE3 'Prescott' kernels on them: nd.dot (and with it the model's batch_dot) ran 2.4x
    slower here than with the AVX2/AVX-512 kernels it ships.
    """
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    if "avx512f" in flags and "avx512bw" in flags:
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return None


# MXNet and its OpenBLAS read these when they load: set them before anything imports mxnet.
# MXNet alone would use one thread on a 2-core machine; 2 measured 1.8x faster.
os.environ.setdefault("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
# MXNet caches oneDNN primitives per input shape, without bound by default. Batches vary in
# both B and T, so the cache grew to 1.9 GB over 512 batch shapes; 128 entries keep it flat.
os.environ.setdefault("MXNET_MKLDNN_CACHE_NUM", "128")
_core = openblas_core()
if _core:
    os.environ.setdefault("OPENBLAS_CORETYPE", _core)

__version__ = "0.1.0"
