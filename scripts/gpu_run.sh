#!/usr/bin/env bash
# One device call, end to end: reproduce a set of Table 1/2 cells on a GPU and leave the result
# files under $OUT/results (copy them into results/ and commit them with their provenance).
#
#   scripts/gpu_run.sh DATASET "BACKBONES" [PRESET] [METHODS...]
#   e.g. scripts/gpu_run.sh cifar10 "vgg16 resnet18" paper original wfnet
#
# The machine needs torch/torchvision/timm (preinstalled there) and no registry: the package runs
# from this checkout via PYTHONPATH. Data travels in the git-ignored .data/ folder (carry it):
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg.tar.xz .data/ && cp -r ../shared/data/MNIST .data/
# Cells are resumable: a killed call restarts at the next missing piece when runs/ is kept.
set -euo pipefail
dataset=${1:?dataset}; backbones=${2:?backbones}; preset=${3:-paper}; shift $(( $# < 3 ? $# : 3 ))
methods=("$@")
out=${OUT:-out}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export WFNET_DATA_ROOT="${WFNET_DATA_ROOT:-$PWD/.data}" WFNET_CACHE="${WFNET_CACHE:-/tmp/wfnet-cache}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for backbone in $backbones; do
  python3 -m wfnet.cli reproduce --dataset "$dataset" --backbone "$backbone" --preset "$preset" \
    --out "$out/results" --runs "${RUNS:-runs}" --device cuda --no-progress \
    ${methods:+--methods "${methods[@]}"} 2>&1 | tee -a "$out/log.txt"
done
