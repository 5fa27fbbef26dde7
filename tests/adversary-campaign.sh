#!/usr/bin/env bash
# Long campaign of the adversarial team simulator (core/src/store/adversary_sim.rs):
# SEEDS seeds from FIRST, each run twice (revocation prompt, and at random). CI runs
# 3 seeds from 1 (`cargo test` default). Usage: bash tests/adversary-campaign.sh [SEEDS] [FIRST]
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${1:-200}"
FIRST="${2:-1}"
export CARGO_INCREMENTAL=0
start=$(date +%s)
CARAVAN_SIM_SEEDS="$SEEDS" CARAVAN_SIM_FIRST="$FIRST" \
  cargo test -p caravan-core --lib adversary_sim -- --nocapture
echo "adversary campaign: seeds $FIRST..$((FIRST + SEEDS - 1)) x 2 runs passed in $(( $(date +%s) - start )) s"
