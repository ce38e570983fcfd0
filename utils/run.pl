#!/usr/bin/env bash
# run.pl: Kaldi's launcher interface, implemented in hyp_face.bin.run_pl (usage: run.pl --help).
# One task without options (run.pl LOG command ..., as steps/ scripts run one job) runs here in bash, with the log and
# failure message of hyp_face.grid.launcher (rotate_log, job_script): no python start-up (60-80 ms) on the way.
if [ $# -lt 2 ] || [[ $1 == -* || $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
  exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.run_pl "$@"
fi
log=$1; shift
failed() {  # the launcher's message (the failed log and the last line the task wrote); exit 1
  exec "${HYP_FACE_PYTHON:-python3}" -c 'import sys
from hyp_face.grid.launcher import JobSpec, failure_message
print(failure_message("run.pl", JobSpec(sys.argv[1], ""), [1]), file=sys.stderr)
sys.exit(1)' "$log"
}
cmd=
for word in "$@"; do  # joined as Kaldi does: a word with whitespace is quoted
  if [[ -n $word && $word != *[[:space:]]* ]]; then quoted=$word
  elif [[ $word == *\"* ]]; then quoted="'$word'"
  else quoted="\"$word\""
  fi
  cmd+=${cmd:+ }$quoted
done
for age in 2 1; do  # keep the logs of earlier runs: <log>.1 (previous) ... <log>.3
  if [ -e "$log.$age" ]; then mv -f "$log.$age" "$log.$((age + 1))"; fi
done
if [ -e "$log" ]; then mv -f "$log" "$log.1"; fi
mkdir -p "$(dirname "$log")" || failed
date_format='%a %b %e %H:%M:%S %Z %Y'  # date's own
{ printf '# %s\n' "$cmd"; echo "# Running on $HOSTNAME"; printf "# Started at %($date_format)T\n" -1; } > "$log" || failed
printf -v t0 '%(%s)T' -1
bash -c "$cmd" <&0 >> "$log" 2>&1 &  # in the background (its stdin kept) so that a signal reaches the trap
task=$!
trap 'kill -TERM $task 2>/dev/null; echo "run.pl: interrupted; $log may be incomplete" >&2; exit 1' TERM INT
wait $task
ret=$?
printf -v t1 '%(%s)T' -1
[ -n "$(tail -c 1 "$log")" ] && echo >> "$log"  # footer on its own line
echo "# Accounting: time=$((t1 - t0)) threads=1" >> "$log"
printf "# Ended (code %s) at %($date_format)T, elapsed time %s seconds\n" $ret -1 $((t1 - t0)) >> "$log"
[ $ret -eq 0 ] || failed
