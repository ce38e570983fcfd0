"""run.pl's single task without options runs in bash (utils/run.pl), with the python launcher's log and messages."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest
from test_launchers import UTILS, launch, log_lines

SOME_OUTPUT = ("printf", "%s\\n", "one two", 'say "hi"', "\\|", "tr", "a-z", "A-Z", "&&", "printf", "no newline")


def same_log(path) -> list[str]:
    """The log with its times and dates masked."""
    return [re.sub(r"(Started at|\) at) .*?(,|$)", r"\1 DATE\2", line) for line in log_lines(path)]


@pytest.mark.parametrize("words", [SOME_OUTPUT, ("echo", "x", ">&2", "&&", "exit", "3"), ("true",)])
def test_the_bash_task_writes_the_log_of_the_python_launcher(tmp_path, words):
    bash = launch("run.pl", "log/a.log", *words, cwd=tmp_path)  # the bash path
    python = launch("run.pl", "X=1:1", "log/b.log", *words, cwd=tmp_path)  # a task range: the python launcher
    assert (bash.returncode, bash.stdout) == (python.returncode, python.stdout)
    assert bash.stderr.replace("a.log", "b.log") == python.stderr
    assert same_log(tmp_path / "log/a.log") == same_log(tmp_path / "log/b.log")


def test_the_bash_task_rotates_earlier_logs_and_names_its_error(tmp_path):
    for run in range(5):
        assert launch("run.pl", "r.log", "echo", f"run{run}", cwd=tmp_path).returncode == 0
    assert [log_lines(tmp_path / name)[3] for name in ("r.log", "r.log.1", "r.log.2", "r.log.3")] == \
        ["run4", "run3", "run2", "run1"]
    res = launch("run.pl", "r.log", "python3", "-c", "raise ValueError('bad input')", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.splitlines() == ["run.pl: 1 / 1 failed, log is in r.log", "run.pl: r.log: ValueError: bad input"]
    assert log_lines(tmp_path / "r.log.1")[3] == "run4"


def test_the_bash_task_reads_the_launcher_stdin(tmp_path):
    for name, args in (("a.log", ()), ("b.log", ("X=1:1",))):
        res = subprocess.run([str(UTILS / "run.pl"), *args, name, "tr", "a-z", "A-Z"], cwd=tmp_path, input="hi\n",
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and log_lines(tmp_path / name)[3] == "HI"


def test_a_terminated_bash_task_stops_its_job(tmp_path):
    proc = subprocess.Popen([str(UTILS / "run.pl"), "t.log", "sleep", "60"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(1.0)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "interrupted" in err and time.monotonic() - start < 10
