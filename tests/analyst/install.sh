#!/usr/bin/env bash
# Installs the analyst readers the export tests use (pandas, pyarrow, openpyxl) into a
# virtual environment under target/analyst-venv, idempotently: nothing is fetched when
# they import already. Prints the venv's python on its last line.
# CARAVAN_NO_INSTALL=1 never installs (prints nothing and fails when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${CARAVAN_ANALYST_VENV:-$PWD/target/analyst-venv}"
py="$venv/bin/python"
if [[ -x $py ]] && "$py" -c 'import pandas, pyarrow, openpyxl' 2>/dev/null; then
  echo "$py"
  exit 0
fi
if [[ ${CARAVAN_NO_INSTALL:-0} == 1 ]]; then
  echo "analyst readers missing: pip install pandas pyarrow openpyxl into $venv" >&2
  exit 1
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
fi
echo "analyst readers: creating $venv (pandas, pyarrow, openpyxl)" >&2
python3 -m venv "$venv"
"$py" -m pip install -q --disable-pip-version-check pandas pyarrow openpyxl >&2
echo "$py"
