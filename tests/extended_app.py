"""service.wsgi:app with the extended answer (tests/extended_answer.py), for a real gunicorn."""
from tests.extended_answer import extend

extend()

from service.app import create_app  # noqa: E402  (after the answer class is extended)

app = create_app()
