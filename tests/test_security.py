"""No debug mode, no stack traces, no pickle in bundles."""
import pytest

from service.app import create_app


@pytest.fixture
def client(small_bundle):
    app = create_app({"MODEL_PATH": str(small_bundle), "TESTING": False})
    assert app.debug is False
    return app


def test_an_internal_error_is_a_plain_json_500(client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(client.extensions["sentences"], "forward_sentences", explode)
    response = client.test_client().post("/predict", json={"text": "a lovely film"})
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    assert b"secret" not in response.data and b"Traceback" not in response.data


def test_bundle_weights_are_mxnet_ndarray_files_not_pickle(small_bundle):
    raw = (small_bundle / "weights.params").read_bytes()
    assert raw[:8] == (0x112).to_bytes(8, "little")  # MXNet's NDArray-list magic number
    assert not raw.startswith(b"\x80")  # a pickle stream starts with PROTO (0x80)
    for name in ("config.json", "metrics.json", "vocab.json", "manifest.json"):
        assert (small_bundle / name).read_text(encoding="utf-8").lstrip().startswith("{")


def test_no_admin_or_reload_endpoint(small_bundle):
    rules = {rule.rule for rule in create_app({"MODEL_PATH": str(small_bundle)}).url_map.iter_rules()}
    assert rules == {"/health", "/ready", "/model", "/predict", "/metrics", "/openapi.json", "/"}
