"""gunicorn settings, all from the environment.

SENTIMENT_BIND (default 127.0.0.1:8000; the container sets 0.0.0.0:8000), SENTIMENT_WORKERS
and SENTIMENT_THREADS (default for a GloVe model: one worker per core, 4 threads each; for an
encoder model: one worker with 32 threads, so that concurrent requests share its passes, which
cost far more than a request's overhead: bench/README.md), SENTIMENT_TIMEOUT (default 30 s).
Each worker loads the model itself (no preload: workers forked after MXNet has run are
single-threaded), with OMP_NUM_THREADS = cores / workers so the workers do not fight over cores.
"""
import os
import shutil
import tempfile

_omp_given = os.environ.get("OMP_NUM_THREADS")  # before `import sentiment` sets its own default
from sentiment.inference.kinds import serving_layout  # noqa: E402  (reads the bundle's kind without MXNet)

_cores = len(os.sched_getaffinity(0))


_layout = serving_layout(os.environ.get("SENTIMENT_MODEL", "models/default"), _cores)
bind = os.environ.get("SENTIMENT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SENTIMENT_WORKERS", _layout[0]))
threads = int(os.environ.get("SENTIMENT_THREADS", _layout[1]))
worker_class = "gthread"
timeout = int(os.environ.get("SENTIMENT_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
preload_app = False
accesslog = os.environ.get("SENTIMENT_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("SENTIMENT_LOG_LEVEL", "info")
limit_request_line = 8190
limit_request_fields = 100
control_socket_disable = True  # no admin interface: reloads are signals (SIGHUP), not an open socket

os.environ["OMP_NUM_THREADS"] = _omp_given or str(max(1, _cores // max(1, workers)))


def oversubscription_warning(omp_threads, workers, cores):
    """A warning when workers x OpenMP threads exceed the cores (spinning threads then fight), else None."""
    if workers * omp_threads <= cores:
        return None
    return (f"OMP_NUM_THREADS={omp_threads} with {workers} workers runs {workers * omp_threads} OpenMP threads on "
            f"{cores} cores: the threads spin against each other (measured: 126 instead of 1,415 requests/s). "
            f"Unset OMP_NUM_THREADS (the default is cores / workers = {max(1, cores // workers)}) or lower "
            f"SENTIMENT_WORKERS.")


def when_ready(server):
    try:
        message = oversubscription_warning(int(os.environ["OMP_NUM_THREADS"]), workers, _cores)
    except ValueError:
        message = None
    if message:
        server.log.warning(message)
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sentiment-prometheus-")


def on_exit(server):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
