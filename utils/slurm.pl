#!/usr/bin/env python3
"""slurm.pl: Kaldi-compatible SLURM launcher (written in Python; see utils/launcher.py).

    slurm.pl [--mem 4G] [--gpu N] [--num-threads N] [--max-jobs-run N] [--config conf/slurm.conf]
             [-p partition ...] [JOB=1:N] LOGFILE command args...

Submits ONE job (``sbatch --array=S-E%max_jobs_run`` for JOB=S:E), waits for it and fails when any
task failed.  Options map to sbatch flags through the config (default ``conf/slurm.conf`` in the
current directory, else the one beside this utils/; format in conf/slurm.conf); --max-jobs-run is handled
natively as the array throttle.  Each task writes its exit status to a done file in ``<logdir>/q``
(the polling interval grows up to $HYP_FACE_GRID_POLL_MAX s, default 10; tasks that left the
queue without a status count as failed after $HYP_FACE_GRID_GRACE s, default 15).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import launcher  # noqa: E402

ALIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"}


def submit_args(spec: launcher.JobSpec, _config, qbase: str, script: str) -> list[str]:
    """sbatch arguments naming the job, its scheduler output and the array."""
    args = ["--parsable", f"--job-name={os.path.basename(qbase)}"]
    if spec.jobvar is None:
        return args + [f"--output={qbase}.%j.out", script]
    array = f"{spec.start}-{spec.end}"
    if "max_jobs_run" in spec.options:
        array += f"%{spec.options['max_jobs_run']}"
    return args + [f"--output={qbase}.%a.out", f"--array={array}", script]


def is_alive(job_id: str) -> bool | None:
    """True while any task of the job is queued or running; None when squeue cannot tell."""
    proc = subprocess.run(["squeue", "-h", "-j", job_id, "-t", "all", "-o", "%T"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return False if "invalid job id" in proc.stderr.lower() else None
    return any(state.strip() in ALIVE_STATES for state in proc.stdout.splitlines())


SLURM = launcher.Scheduler(
    config_name="slurm.conf",
    native_options=("max_jobs_run",), submit_args=submit_args,
    parse_job_id=lambda out: out.strip().splitlines()[0].split(";")[0].strip(),
    is_alive=is_alive, cancel=["scancel"])

if __name__ == "__main__":
    sys.exit(launcher.main("slurm.pl", sys.argv[1:],
                           lambda spec: launcher.GridRunner("slurm.pl", spec, SLURM).run()))
