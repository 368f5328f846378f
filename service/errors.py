"""Every error is JSON, {"error": {"code", "message"}}, never an HTML page or a stack trace."""
import logging

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger("sentiment.service")


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status, code, message):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
          415: "unsupported_media_type", 422: "unprocessable", 503: "not_ready"}


def register(app):
    @app.errorhandler(ApiError)
    def api_error(exc):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, "body_too_large",
                              f"the body is over the limit of {limit:,} bytes; send fewer or shorter texts per request "
                              f'(the "texts" batch form, split into several requests), or raise the limit with '
                              f"SENTIMENT_MAX_BODY_BYTES")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        response = error_response(exc.code, _CODES.get(exc.code, "http_error"), exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal server error")
