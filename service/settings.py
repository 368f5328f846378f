"""Service settings, read from the environment once; `create_app(config)` may override any of them."""
import os

DEFAULTS = {
    "MODEL_PATH": ("SENTIMENT_MODEL", "models/default", str),
    "DEVICE": ("SENTIMENT_DEVICE", None, str),
    "MAX_CONTENT_LENGTH": ("SENTIMENT_MAX_BODY_BYTES", 1 << 20, int),  # Flask answers 413 past this
    "MAX_TEXTS": ("SENTIMENT_MAX_TEXTS", 64, int),
    "MAX_TEXT_CHARS": ("SENTIMENT_MAX_TEXT_CHARS", 20_000, int),  # longer texts are clipped and flagged
    "MAX_SENTENCES": ("SENTIMENT_MAX_SENTENCES", 256, int),  # sentences read per text; the rest flagged
    "MICROBATCH": ("SENTIMENT_MICROBATCH", 1, int),  # 1: batch concurrent requests in one pass (bench/load)
    # Under load, how long a pass may wait for the requests in flight; None: the model kind's default
    "MICROBATCH_WAIT_MS": ("SENTIMENT_MICROBATCH_WAIT_MS", None, float),
}


def from_environment(environ=os.environ):
    settings = {}
    for key, (variable, default, kind) in DEFAULTS.items():
        value = environ.get(variable)
        settings[key] = kind(value) if value not in (None, "") else default
    return settings
