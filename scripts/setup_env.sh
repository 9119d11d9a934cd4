#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) idempotently.
# Re-installs only when setup.py changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SOTLAB_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
EXTRAS="${1:-test}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[sotlab] creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.sotlab-installed-$EXTRAS"
HASH="$(sha256sum "$ROOT/setup.py" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  # Fail early and clearly instead of pip's mid-install "[Errno 28] No space left on device".
  NEED_KB="${SOTLAB_VENV_NEED_KB:-$((7 * 1024 * 1024))}"
  # (only when torch is not in the venv yet: a re-install for a changed setup.py adds little)
  if ! compgen -G "$VENV/lib/python*/site-packages/torch/__init__.py" >/dev/null; then
    AVAIL_KB="$(df -Pk "$VENV" | awk 'NR==2 {print $4}')"
    if [ -n "$AVAIL_KB" ] && [ "$AVAIL_KB" -lt "$NEED_KB" ]; then
      echo "[sotlab] error: installing torch into $VENV needs ~$((NEED_KB / 1024)) MB free, only $((AVAIL_KB / 1024)) MB are;" \
           "free space there or point SOTLAB_VENV at a bigger disk" >&2
      exit 1
    fi
  fi
  echo "[sotlab] installing SOTLab and dependencies into $VENV (first time: ~2 min, ~6 GB)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  # torch/torchvision first and pinned: the CUDA build also runs on CPU.
  # (grep drops pip's harmless "Location ... is ignored" notes about this machine's local indexes)
  "$VENV/bin/python" -m pip install -q --no-cache-dir "torch==2.14.1" "torchvision==0.29.1" 2> >(grep -v "^WARNING: Location" >&2)
  "$VENV/bin/python" -m pip install -q --no-cache-dir -e "$ROOT[$EXTRAS]" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$HASH" > "$STAMP"
fi
