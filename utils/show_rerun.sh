#!/usr/bin/env bash
# Usage: show_rerun.sh <log> [<log> ...]
# Prints the last "rerun:" line of each job log: whether the job skipped its up-to-date outputs or redid them,
# and why (docs/rerun.md). Logs without such a line print nothing.
set -euo pipefail
if [ $# -eq 0 ] || [ "$1" = --help ]; then sed -n '2,4s/^# //p' "$0" >&2; exit 1; fi
for log in "$@"; do
  [ -f "$log" ] || { echo "show_rerun.sh: no such log $log" >&2; continue; }
  { grep -h "rerun: " "$log" || true; } | tail -n 1 | sed 's/^.*rerun: //'
done
