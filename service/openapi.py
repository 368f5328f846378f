"""The OpenAPI 3 description of every endpoint (served at /openapi.json; tests keep it true).

The answers' schemas are read from their dataclasses (sentiment.inference.answer) each time.
"""
from sentiment.inference import answer
from sentiment.inference.answer import schema
from sentiment.inference.documents import VERDICT
from sentiment.inference.kinds import KINDS

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*statuses):
    text = {400: "Bad JSON or wrong types", 413: "Body too large", 415: "Wrong content type",
            422: "Empty text, too many texts, or aspects that cannot be answered", 503: "Model not loaded", 405: "Method not allowed"}
    return {str(s): {"description": text[s], "content": {"application/json": {"schema": _ERROR}}} for s in statuses}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# A text must hold a word: empty, whitespace-only, control- or format-character-only texts are answered 422.
_TEXT = {"type": "string",
         "pattern": "[^\\s\\x00-\\x1f\\x7f-\\x9f\\xad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891"
                    "\\u08e2\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff"
                    "\\ufff9-\\ufffb]"}

_OPTIONS = {
    "attention": {"type": "boolean", "description": "include the attention matrix (default true)"},
    "contributions": {"type": "boolean",
                      "description": "include each word pair's exact signed share of the log-odds (default false)"},
    "top_pairs": {"type": "integer", "minimum": 0, "maximum": 50,
                  "description": "how many pairs to list by |contribution| (default 5); used only with "
                                 "\"contributions\": true"},
}

_TARGETS = {"type": "array", "items": {"oneOf": [
    {"type": "string", "minLength": 1, "description": "every whole-word, case-insensitive occurrence"},
    {"type": "object", "required": ["start", "end"], "additionalProperties": False,
     "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1}},
     "description": "a character span of the text, start and end between words"}]}}
_ASPECTS_ONE = {"description": "true: find the targets; or the targets to answer. A span that is out of range, "
                               "empty or cuts a word is answered 422; a string that does not occur gets found: false",
                "oneOf": [{"type": "boolean"}, _TARGETS]}
_ASPECTS_MANY = {"description": "true: find the targets in every text; or one entry per text (true, false, or its "
                                "targets): a list of another length is answered 422",
                 "oneOf": [{"type": "boolean"}, {"type": "array", "items": {"oneOf": [{"type": "boolean"}, _TARGETS]}}]}
_ASPECT = ("One target of the text: where it is, its polarity, and with contributions the word pairs that decided "
           "it, with their exact shares of its log-odds.")
_SENTENCE = "One sentence of the text: its offsets, weight in the verdict and own answer."
_PREDICTION = ("The answer for a whole text, and its sentences. A text of one sentence also carries that sentence's "
               "tokens, attention (and contributions, top_pairs) at the top; a text of several carries them per "
               f"sentence only. The text is neutral when its score lies within {VERDICT.band} of 0.")


def spec(aspects=True):
    """The document, with the answers' schemas read from their dataclasses as they are now.

    aspects=False: the requests' "aspects" are left out, as a server whose bundle has no aspect heads answers them
    with 422 alone."""
    one, many = ({"aspects": _ASPECTS_ONE}, {"aspects": _ASPECTS_MANY}) if aspects else ({}, {})
    return {
        "openapi": "3.0.3",
        "info": {"title": "Sentiment with word-pair attention", "version": "1.0.0",
                 "description": "A relation-network self-attention classifier; every answer shows the word pairs it "
                                "looked at."},
        "paths": {
            "/predict": {"post": {
                "summary": "Answer one text or a batch, whole and sentence by sentence, with word-pair attention "
                           "matrices",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"oneOf": [
                        {"type": "object", "required": ["text"], "not": {"required": ["texts"]},
                         "properties": {"text": _TEXT, **one, **_OPTIONS}},
                        {"type": "object", "required": ["texts"], "not": {"required": ["text"]},
                         "properties": {"texts": {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 64},
                                        **many, **_OPTIONS}},
                    ]}},
                    "text/plain": {"schema": _TEXT},
                }},
                "responses": {
                    "200": _json({"oneOf": [
                        {"$ref": "#/components/schemas/Prediction"},
                        {"type": "object", "required": ["predictions", "model"], "properties": {
                            "predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
                            "model": {"type": "string"}}},
                    ]}, "One prediction for {text}, or {predictions: [...]} in order for {texts}"),
                    **_errors(400, 413, 415, 422, 503),
                },
            }},
            "/health": {"get": {"summary": "Liveness", "responses": {"200": _json(
                {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}})}}},
            "/ready": {"get": {"summary": "Readiness: the bundle is loaded and verified", "responses": {
                "200": _json({"type": "object", "required": ["status", "model"],
                              "properties": {"status": {"type": "string"}, "model": {"type": "string"}}}),
                "503": _json({"type": "object", "required": ["status", "reason"],
                              "properties": {"status": {"type": "string"}, "reason": {"type": "string"}}},
                             "Not ready; reason says what is wrong with the bundle"),
            }}},
            "/model": {"get": {"summary": "The model being served", "responses": {
                "200": _json({"type": "object", "required": ["version", "labels", "encoder", "max_length", "device"],
                              "properties": {
                    "version": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}},
                    "encoder": {"type": "string", "enum": list(KINDS),
                                "description": "where the word vectors come from: the pretrained MiniLM encoder "
                                               "(accurate) or GloVe embeddings (fast)"},
                    "max_length": {"type": "integer"}, "device": {"type": "string"}, "path": {"type": "string"},
                    "config": {"type": "object"}, "training": {"type": "object"}, "metrics": {"type": "object"},
                    "document_level": {"type": "object",
                                       "description": "the learned document level's training figures and data "
                                                      "(absent for a bundle without one)"},
                    "aspects": {"type": "object", "description": "the aspect heads' training figures (absent for a "
                                                                 "bundle without them)"}}}),
                **_errors(503),
            }}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
            }}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}},
            "/": {"get": {"summary": "Demo page: type a review, see its verdict and each sentence's heatmap",
                          "responses": {
                "200": {"description": "HTML page",
                        "content": {"text/html": {"schema": {"type": "string"}}}}}}},
        },
        "components": {"schemas": {
            "Prediction": schema(answer.TextAnswer, _PREDICTION),
            "Sentence": schema(answer.SentenceAnswer, _SENTENCE),
            "Aspect": schema(answer.AspectAnswer, _ASPECT),
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        }},
    }
