"""No Docker engine here: validate docker-compose.yml with the real compose binary and lint the Dockerfile."""
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import ROOT

COMPOSE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
    "site-packages" / "compose" / "docker-compose"
HADOLINT = Path(sys.prefix) / "bin" / "hadolint"


def compose(*args, file=ROOT / "docker-compose.yml"):
    # The console script always exits 0, so call the binary itself.
    return subprocess.run([str(COMPOSE), "-f", str(file), *args], capture_output=True, text=True, cwd=ROOT)


def test_compose_file_is_valid_and_has_the_services():
    result = compose("--profile", "train", "--profile", "score", "--profile", "gpu", "--profile", "cluster",
                     "config", "-q")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(compose("--profile", "gpu", "--profile", "cluster", "--profile", "train",
                                    "--profile", "score", "config").stdout)
    services = config["services"]
    assert {"api", "train", "score", "api-gpu", "dask-scheduler", "dask-worker", "score-cluster"} <= set(services)
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    assert any(v["target"] == "/app/models" for v in services["api"]["volumes"])
    gpu = services["api-gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert gpu["build"]["args"]["MXNET_PACKAGE"].startswith("mxnet-cu")
    assert services["train"]["profiles"] == ["train"] and services["score"]["profiles"] == ["score"]


def test_compose_binary_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  api:\n    image: x\n    ports: 8000\n")
    assert compose("config", "-q", file=broken).returncode == 1


def test_dockerfile_lints_clean_and_runs_as_non_root():
    result = subprocess.run([str(HADOLINT), "Dockerfile"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text and "libgomp1" in text and "libquadmath0" in text
    final_user = [line for line in text.splitlines() if line.startswith("USER ")][-1]
    assert final_user not in ("USER root", "USER 0")
