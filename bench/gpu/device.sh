#!/usr/bin/env bash
# On the GPU machine (bench/gpu/README.md). Two verbs:
#   bash device.sh receive FILE...  keep carried parts (run right after they arrive: each command's carry)
#   bash device.sh run OUT        reassemble and verify the kit, then every GPU check; figures to OUT
# Parts are kept in $KIT_HOME (default /tmp/gpu-kit), which outlives one command while the machine is held.
set -euo pipefail
KIT_HOME=${KIT_HOME:-/tmp/gpu-kit}
mkdir -p "$KIT_HOME/parts"

case "${1:-}" in
receive)
  shift
  cp "$@" "$KIT_HOME/parts/"
  ls -l "$KIT_HOME/parts"
  exit 0 ;;
run) OUT=$2 ;;
*) echo "usage: device.sh receive FILE... | run OUT" >&2; exit 2 ;;
esac

mkdir -p "$OUT"
exec > >(tee "$OUT/device.log") 2>&1
step() { echo; echo "== $(date +%T) $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || true
python3 --version; python3 -c "import numpy; print('numpy', numpy.__version__)" || true

step "reassemble, verify and unpack the kit"
python3 - "$KIT_HOME" <<'EOF'
import hashlib, json, shutil, subprocess, sys, tarfile
from pathlib import Path
home = Path(sys.argv[1])
parts = home / "parts"
manifest = json.loads((parts / "MANIFEST").read_text())
digest = hashlib.sha256()
with open(home / "kit.tar.zst", "wb") as whole:
    for part in manifest["parts"]:
        data = (parts / part["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == part["sha256"], f"{part['name']}: SHA-256 differs"
        digest.update(data)
        whole.write(data)
assert digest.hexdigest() == manifest["sha256"], "kit: SHA-256 differs"
(home / "kit").mkdir(exist_ok=True)
if shutil.which("zstd"):
    zstd = subprocess.Popen(["zstd", "-d", "-q", "--long=27", "-c", str(home / "kit.tar.zst")], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", str(home / "kit"), "-xf", "-"], stdin=zstd.stdout, check=True)
else:  # the zstandard module carried in bootstrap.tar
    with tarfile.open(parts / "bootstrap.tar") as tar:
        tar.extractall(home / "bootstrap")
    sys.path.insert(0, str(home / "bootstrap"))
    import zstandard
    with open(home / "kit.tar.zst", "rb") as f:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(f)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            tar.extractall(home / "kit")
(home / "kit.tar.zst").unlink()
print(f"{len(manifest['parts'])} parts verified and unpacked")
EOF
KIT=$KIT_HOME/kit
export LD_LIBRARY_PATH=$KIT/lib:${LD_LIBRARY_PATH:-}
export PYTHONPATH=$KIT/project:$KIT/site
export SENTIMENT_DEVICE=gpu
cd "$KIT/project"

step "mxnet sees the GPU"
python3 -c "import mxnet as mx; print(mx.__version__, 'GPUs:', mx.context.num_gpus()); \
a = mx.nd.ones((2, 3), ctx=mx.gpu()); print((a * 2).sum().asscalar())" 2>&1 | tee "$OUT/mxnet.txt" || true

step "GPU unit tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_device.py tests/test_serving.py \
  2>&1 | tail -25 | tee "$OUT/tests.txt" || true

step "2 epochs of training on the real data, --device gpu"
timeout 300 python3 -m sentiment train --device gpu --epochs 2 --out "$KIT_HOME/model" --no-progress \
  2>&1 | tail -12 | tee "$OUT/train.txt" || true

step "sentiment predict on the GPU"
timeout 60 python3 -m sentiment predict --model "$KIT_HOME/model" --no-attention \
  "The first half drags. But the last hour is gorgeous, and I would happily watch it again." \
  2>&1 | head -40 | tee "$OUT/predict.json" || true

step "bench/speed on the GPU: the encoder alone and the whole answer"
timeout 180 python3 -m bench.speed.model --encoder --model "$KIT_HOME/model" 2>&1 | tail -14 | tee "$OUT/speed.txt" || true

step "CPU and GPU agree on 1,000 test sentences: the carried default (trained on a CPU), then the model trained here"
for model in models/default "$KIT_HOME/model"; do
[ -e "$model" ] || continue
timeout 120 python3 - "$model" <<'EOF' 2>&1 | tee -a "$OUT/agreement.txt" || true
import sys, numpy as np
from sentiment.corpora.datasets import split_files
from sentiment.corpora.labelled import load_many
from sentiment.inference.predictor import Predictor
texts = load_many(split_files("test")).texts[:1000]
cpu, gpu = Predictor.load(sys.argv[1], "cpu"), Predictor.load(sys.argv[1], "gpu")
a, b = cpu.predict_proba(texts), gpu.predict_proba(texts)
labels_equal = bool((a.argmax(1) == b.argmax(1)).all())
print(f"{len(texts)} sentences: labels equal {labels_equal}, largest probability difference {np.abs(a - b).max():.2e}")
print(f"{sys.argv[1]} ({cpu.version}) agreement:", "pass" if labels_equal and np.abs(a - b).max() <= 1e-4 else "FAIL")
EOF
done
step "done"
