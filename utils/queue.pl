#!/usr/bin/env python3
"""queue.pl: Kaldi-compatible Sun Grid Engine launcher (written in Python; see utils/launcher.py).

    queue.pl [--mem 4G] [--gpu N] [--num-threads N] [--max-jobs-run N] [--config conf/queue.conf]
             [-l hostname=... -q all.q ...] [JOB=1:N] LOGFILE command args...

Submits ONE job (``qsub -t S:E`` for JOB=S:E), waits for it and fails when any task failed.
Options map to qsub flags through the config (default ``conf/queue.conf`` in the current
directory, else the one beside this utils/, Kaldi's format); --max-jobs-run becomes ``-tc N`` unless the config
maps it.  Old-style ``-x value`` options go to qsub verbatim.  Waiting and done files as slurm.pl.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import launcher  # noqa: E402



def submit_args(spec: launcher.JobSpec, config: launcher.GridConfig, qbase: str, script: str) -> list[str]:
    """qsub arguments for the scheduler output and the task array."""
    if spec.jobvar is None:
        return ["-o", f"{qbase}.out", script]
    args = ["-o", f"{qbase}.$TASK_ID.out", "-t", f"{spec.start}:{spec.end}"]
    if "max_jobs_run" in spec.options and "max_jobs_run" not in config.rules:
        args += ["-tc", spec.options["max_jobs_run"]]
    return args + [script]


def parse_job_id(out: str) -> str:
    """The job id from qsub's answer ('Your job[-array] 123[.1-4:1] ...' or -terse '123.1-4:1')."""
    m = re.search(r"Your job(?:-array)? (\d+)", out) or re.match(r"\s*(\d+)", out)
    if not m:
        raise launcher.LauncherError(f"cannot find a job id in qsub's output {out.strip()!r}")
    return m.group(1)


def is_alive(job_id: str) -> bool:
    """Whether qstat still knows the job."""
    return subprocess.run(["qstat", "-j", job_id], capture_output=True).returncode == 0


SGE = launcher.Scheduler(
    config_name="queue.conf",
    native_options=("max_jobs_run",), submit_args=submit_args,
    parse_job_id=parse_job_id, is_alive=is_alive, cancel=["qdel"])

if __name__ == "__main__":
    sys.exit(launcher.main("queue.pl", sys.argv[1:],
                           lambda spec: launcher.GridRunner("queue.pl", spec, SGE).run()))
