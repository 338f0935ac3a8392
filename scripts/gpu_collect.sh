#!/usr/bin/env bash
# Check a results bundle that a GPU call brought back and unpack it into results/ (all or nothing):
#   scripts/gpu_collect.sh /work/.device/.../results-<date>.tar.gz [--results results]
# then `make book` renders the new cells.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:?usage: scripts/gpu_collect.sh BUNDLE.tar.gz [--results DIR]}; shift
exec "${PYTHON:-.venv/bin/python}" -m wfnet.cli collect "$bundle" "$@"
