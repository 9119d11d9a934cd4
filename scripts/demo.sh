#!/usr/bin/env bash
# Set everything up (idempotent) and run the main job on the built-in default:
# track the synthetic test split (generated on first use) with SOTLab's own small
# trained models and the reference NCC tracker, print the results table and write
# success/precision plots to workspace/demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh" test
cd "$ROOT"
PY="${SOTLAB_VENV:-$ROOT/.venv}/bin/python"
THREADS="${SOTLAB_THREADS:-2}"
RESULTS=()
for spec in ${SOTLAB_DEMO_TRACKERS:-siamcar:tiny ocean:tiny ncc:default}; do
  trk="${spec%%:*}"; cfg="${spec#*:}"
  if [ ! -f "configs/$trk/$cfg.yaml" ]; then
    echo "[sotlab] skipping $spec (no configs/$trk/$cfg.yaml)"; continue
  fi
  echo "[sotlab] tracking synthetic test split with $trk $cfg"
  # --archive-stale: results left by an older config (e.g. before a git pull) are moved aside, not mixed in
  "$PY" tracking/run_tracker.py "$trk" "$cfg" --dataset synthetic --threads "$THREADS" --archive-stale
  RESULTS+=("$trk:$cfg")
done
"$PY" tracking/analyze.py --results "${RESULTS[@]}" --dataset synthetic --out "${SOTLAB_WORKSPACE:-$ROOT/workspace}/demo"
echo "[sotlab] plots and tables: ${SOTLAB_WORKSPACE:-$ROOT/workspace}/demo/"
