"""The OpenAPI 3 description of every endpoint (served at /openapi.json; tests keep it true)."""

from sentiment.inference.documents import VERDICT

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*statuses):
    text = {400: "Bad JSON or wrong types", 413: "Body too large", 415: "Wrong content type",
            422: "Empty text or too many texts", 503: "Model not loaded", 405: "Method not allowed"}
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

_PAIR = {"type": "object", "required": ["first", "second", "i", "j", "attention", "contribution"], "properties": {
    "first": {"type": "string"}, "second": {"type": "string"}, "i": {"type": "integer"}, "j": {"type": "integer"},
    "attention": {"type": "number"}, "contribution": {"type": "number"}}}

_MATRIX = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
_SENTENCE_FIELDS = {
    "label": {"type": "string", "description": "the most probable class: negative, neutral or positive for the "
                                               "default model (a retrained model answers with its own labels)"},
    "probabilities": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
    "score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": True,
              "description": "p(positive) - p(negative): the direction and strength, 0 for a sure neutral (a model "
                             "with a rating head reads it from the head); null for a model whose labels include "
                             "neither"},
    "tokens": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "attention": dict(_MATRIX, description="len(tokens) x len(tokens). attention[i][j] weighs the word pair (tokens[i], "
                                           "tokens[j]), whose input is [x_i; x_j]; all entries sum to 1. Left out when "
                                           'the request says "attention": false.'),
    "truncated": {"type": "boolean", "description": "true when something was cut (the text past "
                                                    "SENTIMENT_MAX_TEXT_CHARS, sentences past the limit, a word "
                                                    "longer than the model reads)"},
    "unknown_tokens": {"type": "array", "items": {"type": "string"},
                       "description": "the tokens the model's vocabulary does not hold, in text order; many of them "
                                      "mean a text unlike the training data (another language, say)"},
    "runner_up": {"type": "string", "description": "with contributions: the class the log-odds compare against"},
    "contribution_bias": {"type": "number", "description": "with contributions: the share of the log-odds owed to "
                                                           "no pair"},
    "top_pairs": {"type": "array", "items": _PAIR,
                  "description": "with contributions: the pairs with the largest |contribution|, largest first"},
    "contributions": dict(_MATRIX, description="With \"contributions\": true. len(tokens) x len(tokens), oriented "
                                               "like attention: contributions[i][j] is the word pair's signed share of "
                                               "ln(p[label] / p[runner_up]); all entries plus contribution_bias add "
                                               "up to it exactly. Positive: toward the label."),
}
_SENTENCE = {
    "type": "object",
    "required": ["text", "start", "end", "weight", "label", "probabilities", "score", "tokens", "truncated",
                 "unknown_tokens"],
    "properties": {
        "text": {"type": "string"},
        "start": {"type": "integer", "minimum": 0, "description": "character offset of the sentence in the text"},
        "end": {"type": "integer", "minimum": 0, "description": "text[start:end] is the sentence"},
        "weight": {"type": "number", "minimum": 0, "maximum": 1,
                   "description": "the sentence's share in the text's verdict; the weights sum to 1"},
        **_SENTENCE_FIELDS,
    },
}
_PREDICTION = {
    "type": "object",
    "description": "The answer for a whole text, and its sentences. A text of one sentence also carries that "
                   "sentence's tokens, attention (and contributions, top_pairs) at the top; a text of several "
                   "carries them per sentence only.",
    "required": ["label", "probabilities", "score", "truncated", "sentences_dropped", "unknown_tokens", "model",
                 "sentences"],
    "properties": {
        **_SENTENCE_FIELDS,
        "label": {"type": "string", "description": "the text's verdict: negative, neutral, positive, or mixed when its "
                                                   "positive and negative sentences are balanced (a retrained model "
                                                   "without those labels answers with its own)"},
        "probabilities": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                          "description": "the sentences' probabilities weighted as in the verdict"},
        "score": {"type": "number", "minimum": -1, "maximum": 1, "nullable": True,
                  "description": "the sentences' scores weighted as in the verdict; the text is neutral when it lies "
                                 f"within {VERDICT.band} of 0"},
        "sentences_dropped": {"type": "integer", "minimum": 0,
                              "description": "sentences past SENTIMENT_MAX_SENTENCES, left out (truncated is true)"},
        "model": {"type": "string", "description": "model version"},
        "sentences": {"type": "array", "items": _SENTENCE, "minItems": 1},
    },
}

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Sentiment with word-pair attention", "version": "1.0.0",
             "description": "A relation-network self-attention classifier; every answer shows the word pairs it "
                            "looked at."},
    "paths": {
        "/predict": {"post": {
            "summary": "Answer one text or a batch, whole and sentence by sentence, with word-pair attention matrices",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"oneOf": [
                    {"type": "object", "required": ["text"], "not": {"required": ["texts"]},
                     "properties": {"text": _TEXT, **_OPTIONS}},
                    {"type": "object", "required": ["texts"], "not": {"required": ["text"]},
                     "properties": {"texts": {"type": "array", "items": _TEXT, "minItems": 1, "maxItems": 64},
                                    **_OPTIONS}},
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
                "encoder": {"type": "string", "enum": ["minilm", "glove"],
                            "description": "where the word vectors come from: the pretrained MiniLM encoder "
                                           "(accurate) or GloVe embeddings (fast)"},
                "max_length": {"type": "integer"}, "device": {"type": "string"}, "path": {"type": "string"},
                "config": {"type": "object"}, "training": {"type": "object"}, "metrics": {"type": "object"}}}),
            **_errors(503),
        }}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        }}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}},
        "/": {"get": {"summary": "Demo page: type a review, see its verdict and each sentence's heatmap", "responses": {
            "200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    },
    "components": {"schemas": {
        "Prediction": _PREDICTION,
        "Sentence": _SENTENCE,
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    }},
}
