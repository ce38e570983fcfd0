#!/usr/bin/env python3
"""run.pl: Kaldi-compatible local launcher (written in Python; see utils/launcher.py).

    run.pl [--max-jobs-run N] [other options, ignored] [JOB=1:N] LOGFILE command args...

Runs the tasks on this machine, at most --max-jobs-run at a time (default: the number of usable
CPUs, as Kaldi's run.pl).  --mem, --gpu, --config and -x value options are accepted and ignored;
--num-threads only appears in the log's accounting line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import launcher  # noqa: E402

if __name__ == "__main__":
    sys.exit(launcher.main("run.pl", sys.argv[1:], lambda spec: launcher.LocalRunner(spec).run()))
