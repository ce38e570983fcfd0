"""Sun Grid Engine for the grid launcher: one ``qsub -t S:E`` job per call (see ``queue.pl``)."""

from __future__ import annotations

import re
import subprocess

from hyp_face.grid.launcher import GridConfig, JobSpec, LauncherError, Scheduler


def submit_args(spec: JobSpec, config: GridConfig, qbase: str, script: str) -> list[str]:
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
        raise LauncherError(f"cannot find a job id in qsub's output {out.strip()!r}")
    return m.group(1)


def is_alive(job_id: str) -> bool:
    """Whether qstat still knows the job."""
    return subprocess.run(["qstat", "-j", job_id], capture_output=True).returncode == 0


SGE = Scheduler(
    config_name="queue.conf",
    native_options=("max_jobs_run",), submit_args=submit_args,
    parse_job_id=parse_job_id, is_alive=is_alive, cancel=["qdel"])
