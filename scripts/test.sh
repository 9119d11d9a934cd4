#!/usr/bin/env bash
# Set everything up (idempotent) and run the test suite (excluding tests marked slow).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh" test
cd "$ROOT"
exec "${SOTLAB_VENV:-$ROOT/.venv}/bin/python" -m pytest -m "not slow" -q "$@"
