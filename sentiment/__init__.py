"""Relation-network self-attention sentiment classifier on MXNet/Gluon.

Every prediction carries its T x T word-pair attention matrix.
"""
import os

# MXNet reads these when it loads: set them before anything imports mxnet.
# MXNet alone would use one thread on a 2-core machine; 2 measured 1.8x faster.
os.environ.setdefault("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
# MXNet caches oneDNN primitives per input shape, without bound by default. Batches vary in
# both B and T, so the cache grew to 1.9 GB over 512 batch shapes; 128 entries keep it flat.
os.environ.setdefault("MXNET_MKLDNN_CACHE_NUM", "128")
# MXNet copies arrays of 200k+ elements to and from NumPy with an OpenMP loop in the calling thread.
# That second OpenMP team puts more libgomp threads than cores in the process, after which libgomp
# stops spinning and every operator waits on futexes: the model ran 1.17-1.26x slower for the rest of
# the process (python -m bench.speed.environment). Plain memcpy instead.
os.environ.setdefault("MXNET_CPU_PARALLEL_SIZE", str(2**31 - 1))  # an int in MXNet

__version__ = "0.1.0"
