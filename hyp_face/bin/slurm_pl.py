"""slurm.pl [--mem 4G] [--gpu N] [--num-threads N] [--max-jobs-run N] [--config conf/slurm.conf]
  [-p partition ...] [JOB=1:N] LOGFILE command args...

Kaldi-compatible SLURM launcher (``utils/slurm.pl``; engine in hyp_face.grid).
Submits ONE job (``sbatch --array=S-E%max_jobs_run`` for JOB=S:E), waits for it and fails when any
task failed.  Options map to sbatch flags through the config (default ``conf/slurm.conf`` in the
current directory, else the recipe's; format in conf/slurm.conf); --max-jobs-run is handled
natively as the array throttle.  Each task writes its exit status to a done file in ``q/`` beside
the log directory, as in Kaldi (``exp/x/log/a.JOB.log`` -> ``exp/x/q/``).  The polling interval
grows up to $HYP_FACE_GRID_POLL_MAX s (default 10); tasks that left the queue without a status count
as failed after $HYP_FACE_GRID_GRACE s (default 15).  Logs are rotated and failures reported as with run.pl.
"""

import sys

from hyp_face.grid.launcher import GridRunner, main
from hyp_face.grid.slurm import SLURM

if __name__ == "__main__":
    sys.exit(main("slurm.pl", sys.argv[1:], lambda spec: GridRunner("slurm.pl", spec, SLURM).run(), __doc__))
