"""Process memory policies (hyp_face.memory): a batch job keeps what it frees and asks numpy for 4 kB pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hyp_face.memory import glibc

ROOT = Path(__file__).resolve().parents[1]

# Minor page faults of touching a fresh 64 MB array once its predecessor of the same size was freed, then numpy's
# huge-page setting; with the policy the second array reuses the first one's pages.
PROBE = """
import resource, sys
import numpy as np
from hyp_face.memory import keep_freed_memory
if sys.argv[1] == "policy":
    keep_freed_memory()
def faults_of_a_fresh_array():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(8 * 2**20)  # 64 MB
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del a
    return faults
faults_of_a_fresh_array()
faults = faults_of_a_fresh_array()
multiarray = (getattr(np, "_core", None) or np.core).multiarray
print(faults, multiarray._set_madvise_hugepage(True))
"""


def probe(mode: str) -> tuple[int, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    faults, huge = out.stdout.split()
    return int(faults), huge == "True"


@pytest.mark.skipif(glibc() is None, reason="glibc only")
def test_batch_policy_reuses_freed_memory_in_small_pages():
    faults, huge = probe("policy")
    assert not huge  # numpy no longer asks for huge pages
    assert faults < 50  # the freed 64 MB came back from the heap, already mapped
    default_faults, _ = probe("default")
    assert default_faults > 10 * max(faults, 5)  # without it the array is mapped afresh (2 MB or 4 kB pages)

