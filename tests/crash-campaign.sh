#!/usr/bin/env bash
# The long crash campaign of issue 14: >= 1,000 kill-and-check trials of the crash test
# (tests/tests/crash.rs), in a release build. CI runs the default sample (72 trials);
# this script is run by hand and its figures go to docs/benchmarks.md.
#
#   bash tests/crash-campaign.sh            # 14 x (48 + 24) = 1,008 trials
#   SCALE=30 SEED=7 bash tests/crash-campaign.sh
#   IMPORT_TRIALS=200 (default) kills of a bulk import (tests/tests/import_crash.rs)
#
# Each trial starts the writer process (it opens the store with a raw store key: no
# key derivation happens, so every kill lands in store work), kills it with SIGKILL
# 1-150 ms after it is ready, recovers the store and checks every acknowledged write
# of all trials so far. The summary lines print the per-run figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${SCALE:-14}"
seed="${SEED:-0}"
echo "== crash campaign: CARAVAN_CRASH_SCALE=$scale CARAVAN_CRASH_SEED=$seed ($((scale * 72)) trials)"
log="${LOG:-/tmp/caravan-crash-campaign.log}"
echo "== full output (with any failure's writer stderr): $log"
CARAVAN_CRASH_SCALE="$scale" CARAVAN_CRASH_SEED="$seed" \
  cargo test --release -p caravan-tests --test crash -- --nocapture --test-threads=1 2>&1 |
  tee "$log" | grep -E '^\[(kill|compaction)\]|test result|panicked|FAILED'

# The import kills of issue 18 (F8): a bulk import is all or nothing across SIGKILL.
trials="${IMPORT_TRIALS:-200}"
echo "== import kills: CARAVAN_IMPORT_CRASH_TRIALS=$trials CARAVAN_CRASH_SEED=$seed"
CARAVAN_IMPORT_CRASH_TRIALS="$trials" CARAVAN_CRASH_SEED="$seed" \
  cargo test --release -p caravan-tests --test import_crash -- --nocapture 2>&1 |
  tee -a "$log" | grep -E '^\[import-kill\]|test result|panicked|FAILED'
