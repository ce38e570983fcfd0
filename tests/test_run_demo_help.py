"""run_demo.sh --help: a usage line, one sentence per stage, and the pipeline-not-accuracy warning."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_demo_help():
    r = subprocess.run(["bash", "run_demo.sh", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Usage: run_demo.sh") or lines[0].startswith("Usage: ./run_demo.sh")
    stop_stage = int(re.search(r"^stop_stage=(\d+)$", (ROOT / "run_demo.sh").read_text(), re.M).group(1))
    stages = [int(m.group(1)) for line in lines if (m := re.match(r"\s+stage (\d+): \S", line))]
    assert stages == list(range(1, stop_stage + 1))
    assert "not accuracy" in r.stdout
