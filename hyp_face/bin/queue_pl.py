"""queue.pl [--mem 4G] [--gpu N] [--num-threads N] [--max-jobs-run N] [--config conf/queue.conf]
  [-l hostname=... -q all.q ...] [JOB=1:N] LOGFILE command args...

Kaldi-compatible Sun Grid Engine launcher (``utils/queue.pl``; engine in hyp_face.grid).
Submits ONE job (``qsub -t S:E`` for JOB=S:E), waits for it and fails when any task failed.
Options map to qsub flags through the config (default ``conf/queue.conf`` in the current
directory, else the recipe's, Kaldi's format); --max-jobs-run becomes ``-tc N`` unless the config
maps it.  Old-style ``-x value`` options go to qsub verbatim.  Waiting, done files, logs and failure
reports as slurm.pl.
"""

import sys

from hyp_face.grid.launcher import GridRunner, main
from hyp_face.grid.sge import SGE

if __name__ == "__main__":
    sys.exit(main("queue.pl", sys.argv[1:], lambda spec: GridRunner("queue.pl", spec, SGE).run(), __doc__))
