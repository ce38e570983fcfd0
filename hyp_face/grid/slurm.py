"""SLURM for the grid launcher: one ``sbatch --array=S-E%max_jobs_run`` job per call (see ``slurm.pl``)."""

from __future__ import annotations

import os
import subprocess

from hyp_face.grid.launcher import JobSpec, Scheduler

ALIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"}


def submit_args(spec: JobSpec, _config, qbase: str, script: str) -> list[str]:
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


SLURM = Scheduler(
    config_name="slurm.conf",
    native_options=("max_jobs_run",), submit_args=submit_args,
    parse_job_id=lambda out: out.strip().splitlines()[0].split(";")[0].strip(),
    is_alive=is_alive, cancel=["scancel"])
