"""Micro-batching inside a worker: concurrent requests are scored together in one forward pass.

A single scoring thread takes whatever requests are queued; requests that arrive while a pass runs
are batched into the next one. A request arriving at an idle worker is scored at once, so low load
gets no added latency. Under load, the thread expects as many requests as were in flight during
the last pass (those in it and those queued behind it), and waits up to max_wait_ms for them:
the clients just answered then share the next pass instead of each starting a small one
(bench/README.md: an encoder model at concurrency 32).
"""
import queue
import threading
import time
from concurrent.futures import Future


class MicroBatcher:
    def __init__(self, predictor, max_texts=64, max_wait_ms=0.0):
        self.predictor, self.max_texts, self.max_wait = predictor, max_texts, max_wait_ms / 1000
        self._queue = queue.Queue()
        self._in_flight = 1  # requests in the last pass and queued behind it: how many the next one waits for
        self._thread = None
        self._start_lock = threading.Lock()

    def forward_sentences(self, tokenized, attention=True, contributions=False, words=False, timeout=30):
        """Same results as Predictor.forward_sentences, possibly computed in a pass shared with other requests
        (which may hold matrices or word vectors this request did not ask for: the answer leaves them out)."""
        self._ensure_thread()
        future = Future()
        self._queue.put((tokenized, attention, contributions, words, future))
        return future.result(timeout)

    def _ensure_thread(self):
        # Started lazily, in the process that serves (never in a parent that forks workers).
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="micro-batcher", daemon=True)
                    self._thread.start()

    def _collect(self):
        items = [self._queue.get()]
        count = len(items[0][0])
        deadline = time.monotonic() + self.max_wait
        while count < self.max_texts:
            remaining = deadline - time.monotonic()
            try:
                item = (self._queue.get(timeout=remaining) if len(items) < self._in_flight and remaining > 0
                        else self._queue.get_nowait())
            except queue.Empty:
                break
            items.append(item)
            count += len(item[0])
        return items

    def _loop(self):
        while True:
            items = self._collect()
            tokenized = [t for item in items for t in item[0]]
            try:
                results = self.predictor.forward_sentences(tokenized, attention=any(item[1] for item in items),
                                                           contributions=any(item[2] for item in items),
                                                           words=any(item[3] for item in items))
            except Exception as exc:  # every waiting request gets the error, the thread lives on
                for *_, future in items:
                    future.set_exception(exc)
                continue
            finally:
                self._in_flight = len(items) + self._queue.qsize()
            start = 0
            for request_tokens, *_, future in items:
                future.set_result(results[start:start + len(request_tokens)])
                start += len(request_tokens)
