#!/usr/bin/env bash
# The test suite as CI runs it. pytest's exit code 5 (no tests collected) counts as a failure.
set -uo pipefail
export SPARK_LOCAL_IP=127.0.0.1
export PYTHONHASHSEED=0
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
