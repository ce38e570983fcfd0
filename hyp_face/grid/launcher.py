"""Kaldi-compatible job launchers: the shared engine of ``run.pl``, ``slurm.pl`` and ``queue.pl``
(``utils/*.pl`` run ``python -m hyp_face.bin.run_pl`` etc.).

Usage (all three)::

    LAUNCHER [options] [JOB=1:N] LOGFILE command args...

Options (Kaldi style, each takes one value): ``--mem 4G``, ``--gpu N``, ``--num-threads N``,
``--max-jobs-run N``, ``--config FILE``; any other ``--name value`` must be described by the grid
config (``run.pl`` ignores it).  Old-style ``-x value`` pairs (``-l hostname=...``, ``-q all.q``)
and ``-V`` are passed verbatim to qsub/sbatch (``run.pl`` ignores them).

``JOB=S:E`` runs tasks S..E (``JOB=K`` runs only task K); every occurrence of the variable name
(``JOB`` or any other identifier given before ``=``) in the log name and the command is replaced
by the task id.  The command words are joined as Kaldi does (a word with whitespace is quoted) and
run with ``bash -c``, so pipes given as separate words (``\\|``) work.

Each log starts with ``# <command>``, ``# Running on <host>``, ``# Started at <date>`` and ends
with ``# Accounting: time=<s> threads=<n>`` and ``# Ended (code <status>) at <date>, elapsed
time <s> seconds``.  A log left by an earlier run is kept: it is rotated to ``<log>.1`` (older ones
to ``.2``, ``.3``) before the task starts.  When a task fails the launcher prints
``K / N failed, log is in ...`` and the last line the first failed task wrote to its log (its error, e.g. the
exception), then exits 1.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hyp_face.cli import usable_cores
from hyp_face.io.table import umask_mode

RANGE_RE = re.compile(r"^([A-Za-z_]\w*)=(\d+)(?::(\d+))?$")
OPTION_NAMES_WITH_INT_VALUES = ("gpu", "num_threads", "max_jobs_run")
KEEP_OLD_LOGS = 3  # <log>.1 (previous run) ... <log>.3
LOG_HEADER_END = "# Started at "  # the last line of the header job_script writes
LOG_FOOTER_RE = re.compile(r"^# (Accounting: time=|Ended \(code )")
MAX_ERROR_CHARS = 400


class LauncherError(Exception):
    """A usage or configuration error; printed as ``<prog>: <message>`` with exit status 1."""


@dataclass
class JobSpec:
    """One launcher invocation: tasks, log template, command and options."""

    logfile: str
    command: str
    jobvar: str | None = None
    start: int = 1
    end: int = 1
    options: dict[str, str] = field(default_factory=dict)
    passthrough: list[str] = field(default_factory=list)
    config: str | None = None

    @property
    def tasks(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    @property
    def num_threads(self) -> int:
        return int(self.options.get("num_threads", "1"))

    def log_of(self, task: int) -> str:
        """The log file of one task."""
        return self.logfile.replace(self.jobvar, str(task)) if self.jobvar else self.logfile


def join_command(words: list[str]) -> str:
    """Join command words like Kaldi: plain words as-is, words with whitespace quoted."""
    out = []
    for word in words:
        if word and not re.search(r"\s", word):
            out.append(word)
        elif '"' in word:
            out.append(f"'{word}'")
        else:
            out.append(f'"{word}"')
    return " ".join(out)


def parse_args(argv: list[str]) -> JobSpec:
    """Parse ``[options] [VAR=S:E] LOGFILE command...`` (Kaldi launcher syntax)."""
    options: dict[str, str] = {}
    passthrough: list[str] = []
    config = None
    args = list(argv)
    while args and args[0].startswith("-"):
        switch = args.pop(0)
        if switch == "-V":
            passthrough.append(switch)
            continue
        if switch.startswith("--") and "=" in switch:
            switch, value = switch.split("=", 1)
        elif args:
            value = args.pop(0)
        else:
            raise LauncherError(f"option {switch} needs a value")
        if not switch.startswith("--"):
            passthrough += [switch, value]
        elif switch == "--config":
            config = value
        else:
            options[switch[2:].replace("-", "_")] = value
    for name in OPTION_NAMES_WITH_INT_VALUES:
        if name in options and not options[name].isdigit():
            raise LauncherError(f"--{name.replace('_', '-')} needs a non-negative integer, got {options[name]!r}")
    if options.get("max_jobs_run") == "0":
        raise LauncherError("--max-jobs-run must be at least 1")
    spec_kw: dict = {}
    if args and (m := RANGE_RE.match(args[0])):
        args.pop(0)
        start = int(m.group(2))
        end = int(m.group(3)) if m.group(3) is not None else start
        if end < start:
            raise LauncherError(f"empty job range {m.group(0)}")
        spec_kw = {"jobvar": m.group(1), "start": start, "end": end}
    if len(args) < 2:
        raise LauncherError("usage: [options] [JOB=1:N] LOGFILE command [args...]")
    logfile, words = args[0], args[1:]
    if "=" in logfile and RANGE_RE.match(logfile) is None and logfile.split("=", 1)[0].isidentifier():
        raise LauncherError(f"bad job range or log file {logfile!r} (expected e.g. JOB=1:4)")
    spec = JobSpec(logfile=logfile, command=join_command(words), options=options,
                   passthrough=passthrough, config=config, **spec_kw)
    if spec.jobvar and len(spec.tasks) > 1 and spec.jobvar not in logfile:
        raise LauncherError(f"{len(spec.tasks)} jobs would share one log file {logfile!r} "
                            f"(put {spec.jobvar} in its name)")
    return spec


def job_script(spec: JobSpec, *, cwd: str | None = None, done_prefix: str | None = None,
               source_path_sh: bool = False) -> str:
    """The bash script that runs one task and writes its log header and footer.

    The task id is ``$1`` or, when absent, ``$SLURM_ARRAY_TASK_ID`` / ``$SGE_TASK_ID``.  With
    ``done_prefix`` the exit status is also written (atomically) to ``<done_prefix><task>``.
    """
    lines = ["#!/usr/bin/env bash", "# Written by a hyp_face launcher (hyp_face/grid/launcher.py)."]
    if cwd:
        lines.append(f"cd {shlex.quote(cwd)} || exit 1")
    if source_path_sh:
        lines.append("[ -f ./path.sh ] && . ./path.sh")
    lines += [
        'task=${1:-${SLURM_ARRAY_TASK_ID:-${SGE_TASK_ID:-}}}',
        f"jobvar={shlex.quote(spec.jobvar or '')}",
        f"cmd={shlex.quote(spec.command)}",
        f"log={shlex.quote(spec.logfile)}",
        'if [ -n "$jobvar" ]; then cmd=${cmd//"$jobvar"/$task}; log=${log//"$jobvar"/$task}; fi',
        'mkdir -p "$(dirname "$log")" || exit 1',
        '{ printf "# %s\\n" "$cmd"; echo "# Running on $(hostname 2>/dev/null || uname -n)";'
        ' echo "# Started at $(date)"; } > "$log" || exit 1',
        "t0=$(date +%s)",
        'bash -c "$cmd" >> "$log" 2>&1',
        "ret=$?",
        "t1=$(date +%s)",
        '[ -n "$(tail -c 1 "$log")" ] && echo >> "$log"  # footer on its own line',
        f'echo "# Accounting: time=$((t1 - t0)) threads={spec.num_threads}" >> "$log"',
        'echo "# Ended (code $ret) at $(date), elapsed time $((t1 - t0)) seconds" >> "$log"',
    ]
    if done_prefix:
        lines += [f"done_file={shlex.quote(done_prefix)}$task",
                  'echo "$ret" > "$done_file.tmp" && mv -f "$done_file.tmp" "$done_file"']
    lines.append("exit $ret")
    return "\n".join(lines) + "\n"


def rotate_log(path: Path, keep: int = KEEP_OLD_LOGS) -> None:
    """Keep an earlier run's log: ``<log>`` -> ``<log>.1``, ``<log>.1`` -> ``<log>.2`` ... (at most ``keep``)."""
    if not path.exists():
        return
    for age in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{age}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{age + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def rotate_logs(spec: JobSpec) -> None:
    """Rotate the existing logs of all tasks, so that a rerun never erases the log of a finished job."""
    for task in spec.tasks:
        rotate_log(Path(spec.log_of(task)))


def last_error_line(log: str | os.PathLike) -> str | None:
    """The last non-blank line the task itself wrote to its log (the launcher's header and footer skipped;
    a progress bar's carriage returns end lines too), or None if it wrote none."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    header = next((i for i, line in enumerate(lines) if line.startswith(LOG_HEADER_END)), -1)
    lines = lines[header + 1:]
    while lines and LOG_FOOTER_RE.match(lines[-1]):
        lines.pop()
    for line in reversed(lines):
        text = line.strip()
        if text:
            return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."
    return None


def failure_message(prog: str, spec: JobSpec, failed: list[int]) -> str:
    """``<prog>: K / N failed, log is in <log>`` naming the log (or the pattern and failed ids), then
    ``<prog>: <log of the first failed task>: <its last line>`` when that log has one."""
    head = f"{prog}: {len(failed)} / {len(spec.tasks)} failed, log is in "
    if len(failed) == 1:
        message = head + spec.log_of(failed[0])
    else:
        pattern = spec.logfile.replace(spec.jobvar, "*") if spec.jobvar else spec.logfile
        message = head + f"{pattern} (failed {spec.jobvar}: {' '.join(map(str, failed))})"
    first_log = spec.log_of(failed[0])
    error = last_error_line(first_log)
    return message if error is None else f"{message}\n{prog}: {first_log}: {error}"


def finish(prog: str, spec: JobSpec, failed: list[int]) -> int:
    """Report failures on stderr; the launcher's exit status."""
    if not failed:
        return 0
    print(failure_message(prog, spec, sorted(failed)), file=sys.stderr)
    return 1


# ----------------------------------------------------------------------------------------------
# run.pl: local execution


def visible_gpus() -> int:
    """GPUs this process may use: $CUDA_VISIBLE_DEVICES if set, else ``nvidia-smi -L`` (0 if absent)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


def default_max_jobs(gpu: int) -> int:
    """Parallel local jobs when --max-jobs-run is not given (as Kaldi's run.pl): the number of GPUs
    for GPU jobs (when any is found), else the number of usable CPUs."""
    if gpu > 0 and (gpus := visible_gpus()) > 0:
        return gpus
    return usable_cores()


class LocalRunner:
    """Runs the tasks of a JobSpec on this machine, at most ``max_jobs`` at a time."""

    def __init__(self, spec: JobSpec):
        self.spec = spec
        self.script = job_script(spec)
        self.max_jobs = int(spec.options.get("max_jobs_run") or default_max_jobs(int(spec.options.get("gpu", "0"))))
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run_task(self, task: int) -> int:
        with self.lock:
            if self.stopping:
                return 1
            # Own process group, so that terminate() reaches the whole pipeline of the task.
            proc = subprocess.Popen(["bash", "-c", self.script, "run.pl", str(task)], start_new_session=True)
            self.procs.add(proc)
        ret = proc.wait()
        with self.lock:
            self.procs.discard(proc)
        return ret

    def terminate(self, signum, _frame) -> None:
        """Stop launching and pass the signal (SIGTERM/SIGINT) to the running tasks."""
        with self.lock:
            self.stopping = True
            for proc in self.procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signum)
        print(f"run.pl: interrupted by signal {signum}; {self.spec.logfile} may be incomplete", file=sys.stderr)
        raise SystemExit(1)

    def run(self) -> list[int]:
        """Run all tasks; the ids of the failed ones."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.terminate)
        tasks = self.spec.tasks
        with ThreadPoolExecutor(max_workers=min(self.max_jobs, len(tasks))) as pool:
            codes = list(pool.map(self.run_task, tasks))
        return [t for t, c in zip(tasks, codes) if c != 0]


# ----------------------------------------------------------------------------------------------
# Grid configuration (Kaldi's queue.conf / slurm.conf format)


@dataclass
class GridConfig:
    """``command ...``, ``option name=value flags...`` (value ``*`` matches any, ``$0`` = value),
    ``default name=value`` lines."""

    path: str
    command: list[str]
    rules: dict[str, dict[str, str]]
    defaults: dict[str, str]

    @classmethod
    def parse(cls, text: str, path: str) -> "GridConfig":
        command: list[str] = []
        rules: dict[str, dict[str, str]] = {}
        defaults: dict[str, str] = {}
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            kind, rest = (line.split(None, 1) + [""])[:2]
            if kind == "command" and rest:
                command = rest.split()
            elif kind in ("option", "default") and re.match(r"^\w+=\S+", rest):
                assign, flags = (rest.split(None, 1) + [""])[:2]
                name, value = assign.split("=", 1)
                if kind == "option":
                    rules.setdefault(name, {})[value] = flags.strip()
                else:
                    defaults[name] = value
            else:
                raise LauncherError(f"{path}:{lineno}: cannot parse config line {raw.strip()!r}")
        if not command:
            raise LauncherError(f"{path}: no 'command' line")
        return cls(path, command, rules, defaults)

    def flags(self, options: dict[str, str], native: tuple[str, ...]) -> list[str]:
        """Scheduler flags for the user's options (plus config defaults).

        Options in ``native`` are handled by the launcher itself; a config rule for them is optional.
        """
        values = {**self.defaults, **options}
        out: list[str] = []
        for name, value in values.items():
            rules = self.rules.get(name, {})
            template = rules.get(value, rules.get("*"))
            if template is None:
                if name in native or name not in options:
                    continue
                raise LauncherError(f"option --{name.replace('_', '-')} {value} is not described in {self.path}")
            out += template.replace("$0", value).split()
        return out


def load_config(spec: JobSpec, name: str) -> GridConfig:
    """The config given by --config, else ``conf/<name>`` in the current directory, else the
    recipe's ``conf/<name>`` (the checkout this package lives in)."""
    candidates = [spec.config] if spec.config else [
        os.path.join("conf", name), str(Path(__file__).resolve().parents[2] / "conf" / name)]
    for path in candidates:
        if spec.config or os.path.exists(path):
            try:
                return GridConfig.parse(Path(path).read_text(), path)
            except OSError as err:
                raise LauncherError(f"cannot read config {path}: {err.strerror}") from err
    raise LauncherError(f"no config: none of {', '.join(candidates)} exists (use --config)")


# ----------------------------------------------------------------------------------------------
# Grid execution (SLURM, SGE)


@dataclass
class Scheduler:
    """What differs between grids: how to submit, to ask whether a job is alive, and to cancel."""

    config_name: str  # e.g. slurm.conf, looked up by load_config
    native_options: tuple[str, ...]
    submit_args: Callable[[JobSpec, GridConfig, str, str], list[str]]  # (spec, config, qdir/base, script)
    parse_job_id: Callable[[str], str]
    is_alive: Callable[[str], bool | None]  # None: could not tell
    cancel: list[str]


def env_float(name: str, default: float) -> float:
    """A float tuning knob from the environment."""
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def queue_dir(logfile: str, jobvar: str | None) -> Path:
    """``<dir>/q`` beside the log directory (Kaldi: exp/x/log/a.JOB.log -> exp/x/q)."""
    logdir = Path(logfile).parent
    while jobvar and jobvar in str(logdir):
        logdir = logdir.parent
    return logdir.parent / "q" if logdir.name == "log" else logdir / "q"


def job_base(logfile: str, jobvar: str | None) -> str:
    """A name for the job from the log file name (``a.JOB.log`` -> ``a``)."""
    base = Path(logfile).name
    if jobvar:
        base = base.replace(f".{jobvar}", "").replace(jobvar, "")
    base = re.sub(r"\.log$", "", base)
    return re.sub(r"[^\w.-]", "_", base) or "job"


class GridRunner:
    """Submits all tasks as one array job, waits for their done files, returns failed task ids."""

    def __init__(self, prog: str, spec: JobSpec, sched: Scheduler):
        self.prog, self.spec, self.sched = prog, spec, sched
        self.config = load_config(spec, sched.config_name)
        self.qdir = queue_dir(spec.logfile, spec.jobvar)
        self.base = job_base(spec.logfile, spec.jobvar)
        self.tag = f"{os.getpid()}.{secrets.token_hex(3)}"
        self.done_prefix = str(self.qdir.resolve() / f"done.{self.base}.{self.tag}.")
        self.job_id: str | None = None

    def write_script(self) -> Path:
        self.qdir.mkdir(parents=True, exist_ok=True)
        for task in self.spec.tasks:  # the log dirs, as Kaldi does
            Path(self.spec.log_of(task)).parent.mkdir(parents=True, exist_ok=True)
        script = self.qdir / f"{self.base}.sh"
        script.write_text(job_script(self.spec, cwd=os.getcwd(), done_prefix=self.done_prefix,
                                     source_path_sh=True))
        script.chmod(umask_mode(executable=True))
        return script

    def submit(self, script: Path) -> str:
        """Submit; the scheduler's job id.  The command and its answer go to ``q/<base>.log``."""
        flags = self.config.flags(self.spec.options, self.sched.native_options)
        cmd = (self.config.command + flags + self.spec.passthrough
               + self.sched.submit_args(self.spec, self.config, str(self.qdir / self.base), str(script)))
        if self.spec.jobvar is None:
            cmd.append(str(self.spec.start))  # script argument: the task id of the single job
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise LauncherError(f"{cmd[0]} not found on this machine's PATH: submit from a host of the grid, or "
                                "run the jobs here with run.pl (cmd.sh's default)") from None
        with open(self.qdir / f"{self.base}.log", "w") as f:
            f.write(f"# {shlex.join(cmd)}\n# exit status {proc.returncode}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            raise LauncherError(f"submission failed ({shlex.join(cmd)}): {proc.stderr.strip() or proc.stdout.strip()}")
        return self.sched.parse_job_id(proc.stdout)

    def statuses(self) -> dict[int, int]:
        """Exit status of each finished task (from its done file)."""
        out = {}
        for task in self.spec.tasks:
            try:
                text = Path(f"{self.done_prefix}{task}").read_text().strip()
            except FileNotFoundError:
                continue
            out[task] = int(text) if text.lstrip("-").isdigit() else 1
        return out

    def wait(self) -> dict[int, int]:
        """Poll done files until all exist, or the job has left the scheduler (then wait a grace period)."""
        poll, poll_max = 0.25, env_float("HYP_FACE_GRID_POLL_MAX", 10.0)
        grace = env_float("HYP_FACE_GRID_GRACE", 15.0)
        gone_since = None
        while True:
            done = self.statuses()
            if len(done) == len(self.spec.tasks):
                return done
            alive = self.sched.is_alive(self.job_id)
            now = time.monotonic()
            if alive is False:
                gone_since = gone_since or now
                if now - gone_since > grace:
                    return done
            else:
                gone_since = None
            time.sleep(poll)
            poll = min(poll * 1.5, poll_max)

    def cancel(self, _signum, _frame) -> None:
        if self.job_id:
            subprocess.run(self.sched.cancel + [self.job_id], capture_output=True)
            print(f"{self.prog}: cancelled job {self.job_id}", file=sys.stderr)
        raise SystemExit(1)

    def run(self) -> list[int]:
        script = self.write_script()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.cancel)
        self.job_id = self.submit(script)
        done = self.wait()
        lost = [t for t in self.spec.tasks if t not in done]
        if lost:
            print(f"{self.prog}: job {self.job_id}: no exit status from task(s) {' '.join(map(str, lost))} "
                  f"(killed or never started?); scheduler output is in {self.qdir}/{self.base}.*",
                  file=sys.stderr)
        for task in done:
            Path(f"{self.done_prefix}{task}").unlink(missing_ok=True)
        return sorted(lost + [t for t, code in done.items() if code != 0])


def main(prog: str, argv: list[str], runner: Callable[[JobSpec], list[int]], usage: str) -> int:
    """Parse, run, report; the exit status.  ``--help`` (or no argument) prints ``usage``."""
    if not argv or argv[0] in ("-h", "--help"):
        print("Usage: " + usage.strip(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 1
    try:
        spec = parse_args(argv)
        rotate_logs(spec)
        return finish(prog, spec, runner(spec))
    except LauncherError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
