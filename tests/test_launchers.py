"""Kaldi launchers: run.pl locally, queue.pl against a fake qsub, slurm.pl against a real SLURM.

The SLURM tests skip when ``sinfo`` cannot reach a controller (start one with
``.ci/start_slurm.sh``), unless HYP_FACE_REQUIRE_SLURM=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UTILS = ROOT / "utils"
FAST_POLL = {"HYP_FACE_GRID_POLL_MAX": "0.5", "HYP_FACE_GRID_GRACE": "1"}


def launch(tool: str, *args: str, cwd: Path, env: dict | None = None, timeout: int = 60):
    """Run utils/<tool> with ``args`` in ``cwd``; the CompletedProcess."""
    full_env = {**os.environ, **FAST_POLL, **(env or {})}
    return subprocess.run([str(UTILS / tool), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def assert_framed_log(path: Path, command: str, code: int) -> list[str]:
    """The log has the Kaldi header (command, host, start) and footer (accounting, end + code)."""
    lines = log_lines(path)
    assert lines[0] == f"# {command}"
    assert re.match(r"^# Running on \S+$", lines[1]), lines[1]
    assert lines[2].startswith("# Started at ")
    assert re.match(r"^# Accounting: time=\d+ threads=\d+$", lines[-2]), lines[-2]
    assert re.match(rf"^# Ended \(code {code}\) at .+, elapsed time \d+ seconds$", lines[-1]), lines[-1]
    return lines[3:-2]


# ---------------------------------------------------------------------------------------------
# run.pl


def test_run_pl_substitutes_job_in_command_and_log_name(tmp_path):
    res = launch("run.pl", "JOB=1:3", "log/t.JOB.log", "echo", "task", "JOB", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for job in (1, 2, 3):
        body = assert_framed_log(tmp_path / f"log/t.{job}.log", f"echo task {job}", 0)
        assert body == [f"task {job}"]
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["t.1.log", "t.2.log", "t.3.log"]


def test_run_pl_header_names_this_host(tmp_path):
    assert launch("run.pl", "a.log", "true", cwd=tmp_path).returncode == 0
    assert log_lines(tmp_path / "a.log")[1] == f"# Running on {socket.gethostname()}"


def test_run_pl_failing_job_fails_and_names_its_log(tmp_path):
    res = launch("run.pl", "JOB=1:3", "log/t.JOB.log", "test", "JOB", "-ne", "2", cwd=tmp_path)
    assert res.returncode != 0
    assert "1 / 3 failed, log is in log/t.2.log" in res.stderr
    assert_framed_log(tmp_path / "log/t.2.log", "test 2 -ne 2", 1)
    assert_framed_log(tmp_path / "log/t.1.log", "test 1 -ne 2", 0)
    assert_framed_log(tmp_path / "log/t.3.log", "test 3 -ne 2", 0)


def test_run_pl_several_failures_name_the_log_pattern(tmp_path):
    res = launch("run.pl", "JOB=1:3", "log/t.JOB.log", "test", "JOB", "-eq", "2", cwd=tmp_path)
    assert res.returncode != 0
    assert "2 / 3 failed, log is in log/t.*.log (failed JOB: 1 3)" in res.stderr


@pytest.mark.parametrize("max_jobs,expect_ok", [("1", True), ("3", False)])
def test_run_pl_max_jobs_run(tmp_path, max_jobs, expect_ok):
    """A job fails if another holds the lock directory: only serial execution succeeds."""
    res = launch("run.pl", "--max-jobs-run", max_jobs, "JOB=1:3", "log/l.JOB.log",
                 "mkdir", "lock", "&&", "sleep", "0.4", "&&", "rmdir", "lock", cwd=tmp_path)
    assert (res.returncode == 0) == expect_ok, res.stderr


def test_run_pl_single_job_form_with_pipe_and_nested_log_dir(tmp_path):
    res = launch("run.pl", "deep/er/one.log", "echo", "abc", "|", "tr", "a-z", "A-Z", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert assert_framed_log(tmp_path / "deep/er/one.log", "echo abc | tr a-z A-Z", 0) == ["ABC"]


def test_run_pl_single_job_failure(tmp_path):
    res = launch("run.pl", "one.log", "false", cwd=tmp_path)
    assert res.returncode != 0
    assert res.stderr.splitlines() == ["run.pl: 1 / 1 failed, log is in one.log"], "no error line: the job wrote none"


FAILING_PYTHON_JOB = ["python3", "-c",
                      "import sys; print('working on JOB'); print('WARNING: slow', file=sys.stderr); "
                      "raise ValueError('bad input in job JOB')"]


def test_run_pl_failure_shows_the_error_line_of_the_first_failed_log(tmp_path):
    """The console gets the job's own last line (the exception), not the launcher's footer."""
    res = launch("run.pl", "JOB=1:3", "log/t.JOB.log", "test", "JOB", "-eq", "1", "||", *FAILING_PYTHON_JOB,
                 cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.splitlines() == ["run.pl: 2 / 3 failed, log is in log/t.*.log (failed JOB: 2 3)",
                                       "run.pl: log/t.2.log: ValueError: bad input in job 2"]


def test_run_pl_rotates_earlier_logs_instead_of_erasing_them(tmp_path):
    """Each rerun moves the previous log to .log.1 (and older ones up, three kept)."""
    for run in range(1, 6):
        res = launch("run.pl", "JOB=1:2", "log/r.JOB.log", "echo", f"run{run}", "JOB", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "log").iterdir())
    assert names == [f"r.{j}.log{suffix}" for j in (1, 2) for suffix in ("", ".1", ".2", ".3")]
    for suffix, run in (("", 5), (".1", 4), (".2", 3), (".3", 2)):
        assert assert_framed_log(tmp_path / f"log/r.2.log{suffix}", f"echo run{run} 2", 0) == [f"run{run} 2"]


def test_run_pl_quotes_words_with_spaces_like_kaldi(tmp_path):
    res = launch("run.pl", "q.log", "printf", "[%s]", "a b", 'say "hi"', "\\|", "cat", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    body = assert_framed_log(tmp_path / "q.log", "printf [%s] \"a b\" 'say \"hi\"' \\| cat", 0)
    assert body == ['[a b][say "hi"][|][cat]'], "output without a final newline keeps the footer apart"


def test_run_pl_accepts_grid_options_and_other_ranges(tmp_path):
    res = launch("run.pl", "--mem", "2G", "--gpu", "0", "--num-threads", "4", "-l", "hostname=x",
                 "--config", "conf/none.conf", "SPLIT=2:3", "log/s.SPLIT.log", "echo", "SPLIT", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["s.2.log", "s.3.log"]
    assert log_lines(tmp_path / "log/s.3.log")[-2].endswith("threads=4")


@pytest.mark.parametrize("tool", ["run.pl", "slurm.pl", "queue.pl"])
def test_help_begins_with_a_usage_line(tmp_path, tool):
    res = launch(tool, "--help", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.startswith(f"Usage: {tool} [")


@pytest.mark.parametrize("args,message", [
    (["JOB=1:2", "log/one.log", "true"], "share one log file"),
    (["JOB=3:1", "log/x.JOB.log", "true"], "empty job range"),
    (["--max-jobs-run", "two", "JOB=1:2", "x.JOB.log", "true"], "--max-jobs-run needs"),
    (["x.log"], "usage"),
])
def test_run_pl_usage_errors(tmp_path, args, message):
    res = launch("run.pl", *args, cwd=tmp_path)
    assert res.returncode == 1
    assert message in res.stderr


# ---------------------------------------------------------------------------------------------
# queue.pl against a fake SGE

FAKE_QSUB = """\
#!{python}
# Fake SGE qsub: records its argv, runs the script's tasks locally with SGE_TASK_ID set
# (skipping the tasks listed in $FAKE_QSUB_SKIP), then answers like SGE.
import os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_QSUB_ARGV"], "a") as f:
    f.write(" ".join(args) + "\\n")
no_value = {{"-cwd", "-V", "-terse"}}
opts, i = {{}}, 0
while i < len(args) and args[i].startswith("-"):
    if args[i] in no_value:
        i += 1
    else:
        opts[args[i]] = args[i + 1]
        i += 2
script, script_args = args[i], args[i + 1:]
start, end = map(int, opts.get("-t", "1:1").split(":"))
skip = set(os.environ.get("FAKE_QSUB_SKIP", "").split())
for task in range(start, end + 1):
    if str(task) in skip:
        continue
    env = dict(os.environ, SGE_TASK_ID=str(task) if "-t" in opts else "undefined")
    with open(opts["-o"].replace("$TASK_ID", str(task)), "w") as out:
        subprocess.run(["bash", script, *script_args], env=env, stdout=out, stderr=subprocess.STDOUT)
kind = "job-array" if "-t" in opts else "job"
print(f'Your {{kind}} 4242.{{start}}-{{end}}:1 ("{{os.path.basename(script)}}") has been submitted')
"""


@pytest.fixture
def fake_sge(tmp_path):
    """PATH with a fake qsub (runs tasks locally) and a qstat that knows no job; env for launch()."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "qsub").write_text(FAKE_QSUB.format(python=sys.executable))
    (bindir / "qstat").write_text("#!/bin/sh\necho 'Following jobs do not exist: '\"$2\" >&2\nexit 1\n")
    (bindir / "qdel").write_text("#!/bin/sh\nexit 0\n")
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_QSUB_ARGV": str(tmp_path / "qsub.argv")}
    return work, env, tmp_path / "qsub.argv"


def test_queue_pl_array_job_maps_options_and_writes_logs(fake_sge):
    work, env, argv_file = fake_sge
    res = launch("queue.pl", "--mem", "2G", "--max-jobs-run", "2", "-l", "hostname=foo", "JOB=1:3",
                 "exp/x/log/e.JOB.log", "echo", "task", "JOB", "$SGE_TASK_ID", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    for job in (1, 2, 3):
        body = assert_framed_log(work / f"exp/x/log/e.{job}.log", f"echo task {job} $SGE_TASK_ID", 0)
        assert body == [f"task {job} {job}"]
    argv = argv_file.read_text().splitlines()
    assert len(argv) == 1, "one qsub for the whole array"
    assert argv[0].startswith("-v PATH -cwd -S /bin/bash -j y ")
    for flags in ("-l mem_free=2G,ram_free=2G", "-tc 2", "-l hostname=foo", "-t 1:3"):
        assert f" {flags} " in f" {argv[0]} "
    assert (work / "exp/x/q/e.sh").exists()  # Kaldi's q/ beside log/
    assert not list((work / "exp/x/q").glob("done.*")), "done files are cleaned up"


def test_queue_pl_without_a_grid_client_says_so_in_one_line(tmp_path):
    bindir = tmp_path / "bin"  # python, and no qsub
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    res = launch("queue.pl", "JOB=1:2", "log/x.JOB.log", "echo", "hi", cwd=tmp_path,
                 env={"PATH": f"{bindir}:/usr/bin:/bin", "HYP_FACE_PYTHON": sys.executable})
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "qsub not found on this machine's PATH" in res.stderr and "run.pl" in res.stderr


def test_queue_pl_failing_task(fake_sge):
    work, env, _ = fake_sge
    res = launch("queue.pl", "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "3", cwd=work, env=env)
    assert res.returncode == 1
    assert "1 / 3 failed, log is in log/f.3.log" in res.stderr


def test_queue_pl_rotates_logs_and_shows_the_error_line(fake_sge):
    work, env, _ = fake_sge
    assert launch("queue.pl", "JOB=1:2", "log/h.JOB.log", "echo", "first", cwd=work, env=env).returncode == 0
    res = launch("queue.pl", "JOB=1:2", "log/h.JOB.log", *FAILING_PYTHON_JOB, cwd=work, env=env)
    assert res.returncode == 1
    assert "queue.pl: log/h.1.log: ValueError: bad input in job 1" in res.stderr.splitlines()
    assert assert_framed_log(work / "log/h.1.log.1", "echo first", 0) == ["first"]


def test_queue_pl_lost_task_counts_as_failed(fake_sge):
    work, env, _ = fake_sge
    res = launch("queue.pl", "JOB=1:3", "log/g.JOB.log", "true", cwd=work, env={**env, "FAKE_QSUB_SKIP": "2"})
    assert res.returncode == 1
    assert "no exit status from task(s) 2" in res.stderr
    assert "1 / 3 failed, log is in log/g.2.log" in res.stderr


def test_queue_pl_single_job_and_user_config(fake_sge):
    work, env, argv_file = fake_sge
    (work / "conf").mkdir()
    (work / "conf/queue.conf").write_text(textwrap.dedent("""\
        # site config
        command qsub -q all.q
        option gpu=0
        option gpu=* -l gpu=$0 -q g.q   # GPU queue
        default gpu=0
        """))
    res = launch("queue.pl", "--gpu", "1", "log/one.log", "echo", "one", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    assert assert_framed_log(work / "log/one.log", "echo one", 0) == ["one"]
    assert argv_file.read_text().split()[:6] == ["-q", "all.q", "-l", "gpu=1", "-q", "g.q"]
    res = launch("queue.pl", "--mem", "1G", "log/two.log", "true", cwd=work, env=env)
    assert res.returncode == 1
    assert "--mem 1G is not described in conf/queue.conf" in res.stderr


# ---------------------------------------------------------------------------------------------
# slurm.pl against a real SLURM


def slurm_reachable() -> bool:
    try:
        res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0 and bool(res.stdout.strip())


@pytest.fixture(scope="module")
def slurm():
    if not slurm_reachable():
        msg = "no SLURM controller reachable (sinfo failed); start one with .ci/start_slurm.sh"
        if os.environ.get("HYP_FACE_REQUIRE_SLURM") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.slurm
def test_slurm_pl_array_job_writes_every_task_log(slurm, tmp_path):
    res = launch("slurm.pl", "--max-jobs-run", "2", "--mem", "100M", "--config", str(ROOT / "conf/slurm.conf"),
                 "JOB=1:4", "exp/log/a.JOB.log", "echo", "JOB", "$SLURM_ARRAY_TASK_ID",
                 "$(env", "|", "grep", "^SLURM_ARRAY_J)",  # the array id; JOB in a name would be replaced
                 cwd=tmp_path, timeout=180)
    assert res.returncode == 0, res.stderr
    array_ids = set()
    for job in (1, 2, 3, 4):
        body = assert_framed_log(tmp_path / f"exp/log/a.{job}.log",
                                 f"echo {job} $SLURM_ARRAY_TASK_ID $(env | grep ^SLURM_ARRAY_J)", 0)
        task, task_env, array_var = body[0].split()
        assert task == task_env == str(job), "ran as SLURM array task JOB"
        array_ids.add(array_var.removeprefix("SLURM_ARRAY_JOB_ID="))
    submit = (tmp_path / "exp/q/a.log").read_text()
    assert array_ids == {submit.splitlines()[2].strip()}, "all tasks belong to the one submitted array job"
    assert "--array=1-4%2" in submit and "--mem-per-cpu 100M" in submit


@pytest.mark.slurm
def test_slurm_pl_failing_task_fails_the_launcher(slurm, tmp_path):
    res = launch("slurm.pl", "JOB=1:3", "log/b.JOB.log", "test", "JOB", "-ne", "2", cwd=tmp_path, timeout=180)
    assert res.returncode == 1
    assert "1 / 3 failed, log is in log/b.2.log" in res.stderr
    assert_framed_log(tmp_path / "log/b.2.log", "test 2 -ne 2", 1)
    assert_framed_log(tmp_path / "log/b.3.log", "test 3 -ne 2", 0)


@pytest.mark.slurm
def test_slurm_pl_rotates_logs_and_shows_the_error_line(slurm, tmp_path):
    assert launch("slurm.pl", "log/e.log", "echo", "first", cwd=tmp_path, timeout=180).returncode == 0
    res = launch("slurm.pl", "log/e.log", "echo", "oops:", "JOB", ">&2", ";", "exit", "3", cwd=tmp_path, timeout=180)
    assert res.returncode == 1
    assert "slurm.pl: log/e.log: oops: JOB" in res.stderr.splitlines()
    assert assert_framed_log(tmp_path / "log/e.log.1", "echo first", 0) == ["first"]


@pytest.mark.slurm
def test_slurm_pl_single_job(slurm, tmp_path):
    res = launch("slurm.pl", "log/one.log", "echo", "$SLURM_JOB_ID", "|", "grep", "-E", "^[0-9]+$",
                 cwd=tmp_path, timeout=180)
    assert res.returncode == 0, res.stderr
    body = assert_framed_log(tmp_path / "log/one.log", "echo $SLURM_JOB_ID | grep -E ^[0-9]+$", 0)
    assert re.fullmatch(r"\d+", body[0])


@pytest.mark.slurm
def test_slurm_pl_cancelled_job_counts_as_failed(slurm, tmp_path):
    """A task that leaves the queue without an exit status (here: it cancels itself) is a failure."""
    res = launch("slurm.pl", "log/c.log", "scancel", "$SLURM_JOB_ID", ";", "sleep", "30", cwd=tmp_path, timeout=120)
    assert res.returncode == 1
    assert "no exit status from task(s) 1" in res.stderr
    assert "1 / 1 failed, log is in log/c.log" in res.stderr
