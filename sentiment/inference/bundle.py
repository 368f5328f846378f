"""The model bundle: one directory holding everything needed to predict exactly as training did.

Files: weights.params (MXNet's NDArray format, no pickle), config.json (model sizes, labels,
tokenizer settings), metrics.json (training metrics and data checksums), the word vectors' files
(sentiment.inference.kinds: a GloVe model's vocab.json; an encoder model's WordPiece vocabulary
and lexicon) and manifest.json (SHA-256 of each file). Optional heads beside the sentence
classifier (a document level, aspects) are named in config["heads"], each with its own weights
file, which the manifest must list; a reader that does not know a head refuses the bundle. `save` writes a new version
directory and then swaps a symlink, so readers see the old bundle or the new one,
never a half-written one. `load` verifies every checksum first.
"""
import collections
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..checksums import sha256_file

REQUIRED = ("weights.params", "config.json", "metrics.json")  # every bundle; plus its word encoder's files
MANIFEST = "manifest.json"
FORMAT = 1
KEEP_VERSIONS = 3


class BundleError(Exception):
    """A bundle is missing, incomplete or corrupted; the message says exactly what is wrong."""


def _write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(out, write_weights, vocab_json, config, metrics, extra_files=None):
    """Write a bundle to `out` atomically; returns its version string.

    write_weights(path) writes the parameter file; vocab_json (a GloVe model's vocabulary) may be
    None; extra_files {name: source path} are copied in. `out` becomes a symlink to a sibling
    directory `<name>.<version>`; a real directory already at `out` is moved aside first.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # readable by a server running as another user (mkdtemp makes it 0700)
    try:
        write_weights(str(tmp / "weights.params"))
        if vocab_json is not None:
            (tmp / "vocab.json").write_text(vocab_json, encoding="utf-8")
        for name, source in (extra_files or {}).items():
            shutil.copyfile(source, tmp / name)
        _write_json(tmp / "config.json", config)
        _write_json(tmp / "metrics.json", metrics)
        names = sorted(p.name for p in tmp.iterdir())
        sums = {name: sha256_file(tmp / name) for name in names}
        # The version names what decides predictions (not timings or paths): equal versions answer alike.
        decisive = {name: sums[name] for name in names if name != "metrics.json"}
        version = hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:12]
        _write_json(tmp / MANIFEST, {"format": FORMAT, "version": version, "files": sums})
        for name in (*names, MANIFEST):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        target = out.parent / f"{out.name}.{version}"
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    point(out, target)
    _prune(out)
    return version


def point(link, target):
    """Atomically make `link` a symlink to `target` (the model-swap primitive)."""
    link, target = Path(link), Path(target)
    if link.exists() and not link.is_symlink():
        link.rename(link.with_name(f"{link.name}.old-{int(time.time())}"))
    tmp_link = link.with_name(f".{link.name}.link-{os.getpid()}")
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)


def _prune(link):
    """Keep the newest few version directories of this bundle name (the current one always)."""
    current = link.resolve()
    versions = [p for p in link.parent.glob(f"{link.name}.*") if (p / MANIFEST).exists()]
    versions.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in versions[KEEP_VERSIONS:]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def verify(path):
    """Check the manifest and every checksum; returns the manifest. Raises BundleError."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle {path} does not exist (train one with: python -m sentiment train)")
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["files"]
    except FileNotFoundError:
        raise BundleError(f"model bundle {path}: {MANIFEST} is missing") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"model bundle {path}: {MANIFEST} is unreadable ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"model bundle {path}: format {manifest.get('format')!r}, expected {FORMAT}")
    missing = [name for name in REQUIRED if name not in listed]
    if missing or not isinstance(listed, dict):
        raise BundleError(f"model bundle {path}: manifest lists {sorted(listed)}, which lacks {missing}")
    for name in listed:
        if "/" in name or name.startswith("."):
            raise BundleError(f"model bundle {path}: manifest lists {name!r}, not a file of the bundle")
        file = path / name
        if not file.is_file():
            raise BundleError(f"model bundle {path}: {name} is missing")
        actual = sha256_file(file)
        if actual != listed[name]:
            raise BundleError(f"model bundle {path}: {name} is corrupted (SHA-256 {actual}, manifest says {listed[name]})")
    return manifest


KNOWN_HEADS = ("document", "aspects")  # the optional heads this version answers with (inference.review)


def head_files(config):
    """The weights files of a bundle's optional heads: config["heads"] is {name: {"file": ..., ...}}, and a head with
    more than one names each in a key ending in "file" ("tagger_file")."""
    heads = config.get("heads", {})
    unknown = sorted(set(heads) - set(KNOWN_HEADS))
    if unknown:
        raise BundleError(f"the bundle has heads {unknown} that this version cannot answer with; update the service")
    return tuple(value for head in heads.values() for key, value in head.items() if key.endswith("file"))


Loaded = collections.namedtuple("Loaded", "manifest config metrics vocab_json weights files")


def read(path, needs=lambda config: ("vocab.json",)):
    """Verify, then return Loaded(manifest, config, metrics, vocab_json or None, weights path, {name: path}).

    needs(config): the files the model needs besides REQUIRED (a GloVe model: vocab.json); a
    bundle whose manifest does not list them is refused. A symlink is resolved first, so a model
    swap during the read cannot mix two versions.
    """
    path = Path(path).resolve()
    manifest = verify(path)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    try:
        heads = head_files(config)
    except BundleError as exc:
        raise BundleError(f"model bundle {path}: {exc}") from None
    absent = [name for name in (*needs(config), *heads) if name not in manifest["files"]]
    if absent:
        raise BundleError(f"model bundle {path}: manifest does not list {absent}, which this model needs")
    vocab = path / "vocab.json"
    files = {name: str(path / name) for name in manifest["files"]}
    return Loaded(manifest, config, metrics, vocab.read_text(encoding="utf-8") if "vocab.json" in files else None,
                  str(path / "weights.params"), files)
