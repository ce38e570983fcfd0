"""The back-end benchmark runs end to end on a tiny problem and prints one table row per run (not timed)."""

from __future__ import annotations

import pytest

from hyp_face.bench import backends


@pytest.mark.parametrize("engine,workers", [("numpy", "2"), ("torch", "1")])
def test_benchmark_prints_a_row_per_version_and_mode(capsys, engine, workers):
    backends.main(["--models", "4", "--tests", "6", "--mean-faces", "3", "--max-faces", "8", "--cohort", "60",
                   "--dim", "8", "--ncoh", "10", "--versions", "v1,v7", "--snorm", "none,faithful,asnorm",
                   "--engine", engine, "--workers", workers])
    out = capsys.readouterr().out
    assert f"engine {engine} on cpu" in out
    rows = [[c.strip() for c in line.split("|")[1:6]] for line in out.splitlines() if line.startswith("| v")]
    assert [(v, m) for v, m, *_ in rows] == [(v, m) for m in ("none", "faithful", "asnorm") for v in ("v1", "v7")]
    assert all(float(wall) >= 0 and float(peak) >= 0 and gpu == "-" for *_, wall, peak, gpu in rows)
