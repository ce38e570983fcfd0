"""Round trips of the table helpers and the HDF5 embedding store."""

from __future__ import annotations

import os
import stat

import h5py
import numpy as np
import pytest

from hyp_face.io.embed_store import EmbedReader, EmbedWriter, FaceMeta, StoreError, merge_scps
from hyp_face.io.table import TableError, atomic_write, read_rows, read_scp, split_contiguous, write_scp


def _meta(n: int, seed: int = 0) -> FaceMeta:
    rng = np.random.default_rng(seed)
    return FaceMeta(
        frame=np.arange(n), time=np.arange(n) * 0.5, box=rng.random((n, 4)) * 100,
        score=rng.random(n), landmarks=rng.random((n, 5, 2)) * 100,
    )


def test_split_contiguous_matches_spec_formula():
    keys = [f"k{i:02d}" for i in range(10)]
    parts = [split_contiguous(keys[::-1], 3, j) for j in (1, 2, 3)]
    assert parts == [keys[0:3], keys[3:6], keys[6:10]]  # floor((J-1)K/N) .. floor(JK/N)
    assert sum(parts, []) == keys
    assert split_contiguous(keys[:2], 4, 1) == []
    with pytest.raises(ValueError):
        split_contiguous(keys, 3, 4)


def test_read_scp_reports_duplicates_with_line(tmp_path):
    p = tmp_path / "vid.scp"
    p.write_text("a /x/a.mp4\nb /x/b.mp4\n\na /x/c.mp4\n")
    with pytest.raises(TableError, match=r"vid.scp:4: duplicate key 'a'"):
        read_scp(p)
    p.write_text("a\n")
    with pytest.raises(TableError, match=r":1: key 'a' has no value"):
        read_scp(p)


def test_read_rows_checks_column_count(tmp_path):
    p = tmp_path / "trials"
    p.write_text("m t target\nm t\n")
    with pytest.raises(TableError, match=r"trials:2: expected 3 fields, got 2"):
        read_rows(p, 3, 3)


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    p = tmp_path / "out.txt"
    write_scp(p, {"b": "2", "a": "1"})
    assert p.read_text() == "a 1\nb 2\n"
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write("partial")
            raise RuntimeError("boom")
    assert p.read_text() == "a 1\nb 2\n"
    assert [q.name for q in tmp_path.iterdir()] == ["out.txt"]


def test_store_round_trip_with_slash_keys_and_metadata(tmp_path):
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((3, 8)), rng.standard_normal((2, 8))
    with EmbedWriter(tmp_path / "embed.1") as w:
        w.write("video/1.mp4", x1, _meta(3))
        w.write("video/2.mp4", np.zeros((0, 8)), status="no face found")
    with EmbedWriter(tmp_path / "embed.2") as w:
        w.write("b", x2, _meta(2, seed=2))
    n = merge_scps([tmp_path / "embed.1.scp", tmp_path / "embed.2.scp"], tmp_path / "embed.scp")
    assert n == 3
    lines = (tmp_path / "embed.scp").read_text().splitlines()
    assert lines[0] == f"b {tmp_path / 'embed.2.h5'}"
    with EmbedReader(tmp_path / "embed.scp") as r:
        np.testing.assert_array_equal(r.read("video/1.mp4"), x1.astype(np.float32))
        assert r.read("video/1.mp4").dtype == np.float32
        assert r.read("video/2.mp4").shape == (0, 8)
        assert r.status("video/2.mp4") == "no face found"
        assert r.status("b") == "ok"
        meta = r.read_meta("b")
        np.testing.assert_allclose(meta.landmarks, _meta(2, seed=2).landmarks, rtol=1e-6)
        assert meta.frame.tolist() == [0, 1]
    # The original recipe's readers see a plain (N, D) dataset at the key.
    with h5py.File(tmp_path / "embed.1.h5") as h5:
        assert h5["video/1.mp4"].shape == (3, 8)


def test_store_errors_name_file_and_key(tmp_path):
    with EmbedWriter(tmp_path / "embed.1") as w:
        w.write("a", np.ones((1, 4)))
        with pytest.raises(ValueError, match="written twice"):
            w.write("a", np.ones((1, 4)))
        with pytest.raises(ValueError, match="2 embeddings but 1 metadata rows"):
            w.write("c", np.ones((2, 4)), _meta(1))
    (tmp_path / "bad.scp").write_text(f"a {tmp_path / 'embed.1.h5'}\nz {tmp_path / 'missing.h5'}\n")
    r = EmbedReader(tmp_path / "bad.scp")
    with pytest.raises(StoreError, match="missing.h5.*key 'z'"):
        r.read("z")
    with pytest.raises(StoreError, match="key 'q' is not listed"):
        r.read("q")


def test_writer_leaves_no_files_on_exception(tmp_path):
    with pytest.raises(RuntimeError):
        with EmbedWriter(tmp_path / "embed.1") as w:
            w.write("a", np.ones((1, 4)))
            raise RuntimeError("job died")
    assert list(tmp_path.iterdir()) == []


def test_merge_rejects_duplicate_keys(tmp_path):
    (tmp_path / "a.scp").write_text("k /x.h5\n")
    (tmp_path / "b.scp").write_text("k /y.h5\n")
    with pytest.raises(TableError, match="already listed"):
        merge_scps([tmp_path / "a.scp", tmp_path / "b.scp"], tmp_path / "embed.scp")


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request):
    """Run the test under a given umask; the mode a plain open() gives a new file."""
    old = os.umask(request.param)
    yield 0o666 & ~request.param
    os.umask(old)


def test_writers_respect_the_umask(tmp_path, umask):
    """Atomic writes (tables, scores, models, PNGs) and the HDF5 store get the mode of a plain open()."""
    import matplotlib.pyplot as plt

    from hyp_face.calibrate.model_io import save_model
    from hyp_face.metrics.plots import _save

    write_scp(tmp_path / "table", {"a": "1"})
    save_model(tmp_path / "cal.json", "linear", {"a": 1.0})
    _save(plt.figure(), tmp_path / "plot.png")
    with EmbedWriter(tmp_path / "embed.1") as w:
        w.write("a", np.ones((1, 4)))
    written = ["table", "cal.json", "plot.png", "embed.1.h5", "embed.1.scp"]
    assert {name: oct(stat.S_IMODE((tmp_path / name).stat().st_mode)) for name in written} == {
        name: oct(umask) for name in written}


def test_optional_face_fields_default_and_round_trip(tmp_path):
    """norm/sharpness/track are filled (NaN, NaN, -1) when not given, stored when given, and files without them
    (written before they existed) read with those defaults."""
    meta = FaceMeta(frame=[0, 5], time=[0.0, 0.2], box=np.zeros((2, 4)), score=[0.9, 0.8], landmarks=np.zeros((2, 5, 2)))
    assert np.isnan(meta.norm).all() and np.isnan(meta.sharpness).all() and (meta.track == -1).all()
    tracked = FaceMeta(frame=[0, 5], time=[0.0, 0.2], box=np.zeros((2, 4)), score=[0.9, 0.8],
                       landmarks=np.zeros((2, 5, 2)), norm=[11.0, 12.5], sharpness=[3.0, 4.0], track=[0, 1])
    with EmbedWriter(tmp_path / "embed") as w:
        w.write("new", np.ones((2, 3)), tracked)
        w.write("old", np.ones((2, 3)), meta)
    with h5py.File(tmp_path / "embed.h5", "a") as h5:
        for name in ("norm", "sharpness", "track"):
            del h5[f"__faces__/old/{name}"]
    with EmbedReader(tmp_path / "embed.scp") as r:
        new, old = r.read_meta("new"), r.read_meta("old")
    np.testing.assert_array_equal(new.norm, [11.0, 12.5])
    np.testing.assert_array_equal(new.track, [0, 1])
    assert np.isnan(old.norm).all() and (old.track == -1).all() and len(old) == 2
    assert len(FaceMeta.concat([new, old]).track) == 4
