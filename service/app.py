"""Flask application factory: one place that reads settings, loads the model and registers the routes."""
import logging

import orjson
from flask import Flask, Response, current_app, request, send_from_directory

from sentiment.inference.answer import Options
from sentiment.inference.aspects import AspectError
from sentiment.inference.bundle import BundleError
from sentiment.inference.predictor import EmptyText, Predictor
from sentiment.jsonio import dumps
from service import errors, metrics, settings
from service.batcher import MicroBatcher
from service.errors import ApiError
from service.openapi import spec

log = logging.getLogger("sentiment.service")


def create_app(config=None):
    """Build the app. `config` overrides the environment (see service/settings.py).

    A bundle that fails verification leaves the app up but not ready (/ready answers 503 and
    the log says what is wrong); a device asked for but absent raises, so the worker does not start.
    """
    _use_gunicorn_logging()
    app = Flask(__name__, static_folder=None)
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    app.json.sort_keys = False
    errors.register(app)
    metrics.register(app)
    app.extensions["predictor"] = None
    app.extensions["load_error"] = None
    try:
        predictor = Predictor.load(app.config["MODEL_PATH"], app.config["DEVICE"])
    except BundleError as exc:
        app.extensions["load_error"] = str(exc)
        log.error("model not loaded, not ready: %s", exc)
    else:
        app.extensions["predictor"] = predictor
        wait = app.config["MICROBATCH_WAIT_MS"]
        wait = predictor.kind.serving.microbatch_wait_ms if wait is None else wait
        # The forward step of every answer: the predictor's own, or shared among concurrent requests.
        app.extensions["sentences"] = (MicroBatcher(predictor, app.config["MAX_TEXTS"], wait)
                                       if app.config["MICROBATCH"] else predictor)
        metrics.MODEL_INFO.labels(predictor.version, predictor.device).set(1)
        log.info("model %s loaded from %s on device %s", predictor.version, app.config["MODEL_PATH"],
                 predictor.device)
    register_routes(app)
    return app


def _use_gunicorn_logging():
    """Under gunicorn, log through its error log; otherwise to stderr."""
    gunicorn_log = logging.getLogger("gunicorn.error")
    if gunicorn_log.handlers:
        log.handlers, log.propagate = gunicorn_log.handlers, False
        log.setLevel(gunicorn_log.level)
    elif not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO)


def json_response(obj, status=200):
    return Response(dumps(obj), status=status, mimetype="application/json")


def predictor_or_503():
    predictor = current_app.extensions["predictor"]
    if predictor is None:
        raise ApiError(503, "not_ready", f"model not loaded: {current_app.extensions['load_error']}")
    return predictor


MAX_TOP_PAIRS = 50


def parse_options(payload):
    """The answer's Options from a JSON body's "attention", "contributions" and "top_pairs", checked."""
    flags = {"attention": payload.get("attention", True), "contributions": payload.get("contributions", False)}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ApiError(400, "bad_request", f'"{name}" must be true or false')
    top = payload.get("top_pairs", 5)
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP_PAIRS:
        raise ApiError(400, "bad_request", f'"top_pairs" must be an integer from 0 to {MAX_TOP_PAIRS}')
    # Pairs are ranked by contribution: listed only with "contributions": true.
    return Options(**flags, top_pairs=top if flags["contributions"] else None)


def parse_aspects(payload, single):
    """The request's "aspects" as Predictor takes them: None, true, or one entry per text."""
    aspects = payload.get("aspects")
    if aspects is None or isinstance(aspects, bool):
        return aspects or None
    if not isinstance(aspects, list):
        raise ApiError(400, "bad_request", '"aspects" must be true or a list (of targets; with "texts", one entry '
                                           'per text)')
    if not single and not all(isinstance(entry, (bool, list)) for entry in aspects):
        raise ApiError(400, "bad_request", '"aspects" with "texts" holds one entry per text: true, false or a list '
                                           'of targets')
    return [aspects] if single else aspects


def parse_request():
    """(texts, single, options, aspects) from a JSON or text/plain body; raises ApiError with the right status."""
    mimetype = request.mimetype
    body = request.get_data(cache=False)
    if mimetype == "text/plain":
        try:
            return [body.decode("utf-8")], True, Options(), None
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", "body is not valid UTF-8") from None
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be application/json or text/plain, got {mimetype or 'none'!r}")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "bad_request", f"invalid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", 'body must be a JSON object such as {"text": "..."}')
    options = parse_options(payload)
    if ("text" in payload) == ("texts" in payload):
        raise ApiError(400, "bad_request", 'give exactly one of "text" (a string) or "texts" (a list of strings)')
    if "text" in payload:
        if not isinstance(payload["text"], str):
            raise ApiError(400, "bad_request", f'"text" must be a string, got {type(payload["text"]).__name__}')
        return [payload["text"]], True, options, parse_aspects(payload, True)
    texts = payload["texts"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "bad_request", '"texts" must be a list of strings')
    limit = current_app.config["MAX_TEXTS"]
    if not 1 <= len(texts) <= limit:
        raise ApiError(422, "unprocessable", f'"texts" must hold 1 to {limit} texts, got {len(texts)}')
    return texts, False, options, parse_aspects(payload, False)


def register_routes(app):
    @app.get("/health")
    def health():
        return json_response({"status": "alive"})

    @app.get("/ready")
    def ready():
        if current_app.extensions["predictor"] is None:
            return json_response({"status": "not ready", "reason": current_app.extensions["load_error"]}, 503)
        return json_response({"status": "ready", "model": current_app.extensions["predictor"].version})

    @app.get("/model")
    def model():
        p = predictor_or_503()
        learned = hasattr(p.verdict, "explain")
        return json_response({
            "version": p.version, "labels": p.labels, "encoder": p.kind.name,
            "max_length": p.tokenizer.max_len, "device": p.device,
            "path": current_app.config["MODEL_PATH"], "config": p.config,
            "training": {k: p.metrics.get(k) for k in ("data", "train_seconds", "device", "vocab_size",
                                                       "glove_coverage", "train_config")},
            "metrics": {k: p.metrics.get(k) for k in ("dev_accuracy", "dev_per_source", "test_per_source", "best_epoch",
                                                      "history")},
            **({"document_level": p.metrics.get("document_level")} if learned else {}),
            **({"aspects": p.metrics.get("aspects")} if p.aspects is not None else {}),
        })

    @app.post("/predict")
    def predict():
        p = predictor_or_503()
        texts, single, options, aspects = parse_request()
        max_chars = current_app.config["MAX_TEXT_CHARS"]
        try:
            answers = p(texts, options, current_app.extensions["sentences"].forward_sentences, max_chars,
                        current_app.config["MAX_SENTENCES"], aspects=aspects)
        except EmptyText as exc:
            where = "text" if single else f"texts[{exc.index}]"
            raise ApiError(422, "unprocessable", f"{where} is empty or has no words") from None
        except AspectError as exc:
            raise ApiError(422, "unprocessable", exc.describe(single)) from None
        metrics.BATCH_SIZE.observe(len(texts))
        for answer, text in zip(answers, texts):
            metrics.count_cuts(answer, len(text) > max_chars)
        answers = [answer.to_dict() for answer in answers]
        return json_response(answers[0] if single else {"predictions": answers, "model": p.version})

    @app.get("/metrics")
    def prometheus():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/openapi.json")
    def openapi():
        predictor = current_app.extensions["predictor"]
        return json_response(spec(aspects=predictor is not None and predictor.aspects is not None))

    @app.get("/")
    def index():
        return send_from_directory(app.root_path + "/static", "index.html")
