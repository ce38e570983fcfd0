"""run.pl [--max-jobs-run N] [other options, ignored] [JOB=1:N] LOGFILE command args...

Kaldi-compatible local launcher (``utils/run.pl``; engine in hyp_face.grid.launcher).
Runs the tasks on this machine, at most --max-jobs-run at a time (default: the number of usable
CPUs, as Kaldi's run.pl; with --gpu N > 0, the number of visible GPUs when there are any).  --mem,
--config and -x value options are accepted and ignored; --num-threads only appears in the log's
accounting line.  An earlier log is rotated to LOGFILE.1;
a failure prints the failed task's last log line.
"""

import sys

from hyp_face.grid.launcher import LocalRunner, main

if __name__ == "__main__":
    sys.exit(main("run.pl", sys.argv[1:], lambda spec: LocalRunner(spec).run(), __doc__))
