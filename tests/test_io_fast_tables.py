"""The one-pass table readers give what the line-by-line readers give, results and error messages alike."""

from __future__ import annotations

import numpy as np
import pytest

from hyp_face.io import datadir, table
from hyp_face.io.datadir import read_trials, read_utt2spk
from hyp_face.io.table import read_columns, read_rows, read_scp
from hyp_face.metrics import scores
from hyp_face.metrics.scores import read_scores

TOKEN_CHARS = np.array(list("abcXYZ019_-./:@"))
SEPARATORS = [" ", "  ", "\t", " \t "]


def random_table(rng: np.random.Generator, rows: int, ncols: int, column=None, seps=SEPARATORS) -> str:
    """Lines of ``ncols`` random fields (``column(i, j)`` when given) with random separators, blank lines and
    leading / trailing blanks."""
    lines = []
    for i in range(rows):
        fields = [column(i, j) if column else "".join(rng.choice(TOKEN_CHARS, rng.integers(1, 8)))
                  for j in range(ncols)]
        lead, trail = rng.choice(["", " ", "\t"] if "\t" in "".join(seps) else ["", " "], 2)
        lines.append(lead + "".join(f + rng.choice(seps) for f in fields[:-1]) + fields[-1] + trail)
        if rng.random() < 0.05:
            lines.append(rng.choice(["", "  ", "\t"] if "\t" in "".join(seps) else ["", " "]))
    return "\n".join(lines) + rng.choice(["", "\n"])


@pytest.mark.parametrize("seed", range(8))
def test_read_columns_equals_the_columns_of_read_rows(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "t"
    ncols = int(rng.integers(1, 5))
    path.write_text(random_table(rng, int(rng.integers(1, 300)), ncols))
    rows = [fields for _, fields in read_rows(path)]
    assert read_columns(path) == [list(col) for col in zip(*rows)]


@pytest.mark.parametrize("text", ["a b\nc\n", "a b\r\nc d\n", "a\u00e9 b\n", "a\x0bb c\n", "", "\n \n",
                                  "a b\n\x00 c\n"])
def test_read_columns_declines_what_is_not_plain(tmp_path, text):
    path = tmp_path / "t"
    path.write_bytes(text.encode())
    assert read_columns(path) is None


def test_read_columns_checks_the_column_range(tmp_path):
    path = tmp_path / "t"
    path.write_text("a b c\nd e f\n")
    assert read_columns(path, 3, 3) == [["a", "d"], ["b", "e"], ["c", "f"]]
    assert read_columns(path, 1, 2) is None and read_columns(path, 4) is None
    path.write_text("a\tb\n")
    assert read_columns(path, tabs=False) is None


def random_trials(rng, n_models=7, n_tests=40, labels=True) -> str:
    pairs = [(m, t) for t in range(n_tests) for m in range(n_models) if rng.random() < 0.7]
    cols = 3 if labels else 2

    def column(i, j):
        m, t = pairs[i]
        return (f"m{m}", f"t{t:03d}", rng.choice(["target", "nontarget"]))[j]

    return random_table(rng, len(pairs), cols, column)


def reads(read, path):
    """``read(path)`` in comparable form, or its exception as text."""
    try:
        result = read(path)
    except (ValueError, UnicodeDecodeError) as err:
        return f"{type(err).__name__}: {err}"
    if isinstance(result, tuple):  # trials: (models, tests, labels)
        return result[0], result[1], None if result[2] is None else result[2].tolist()
    return result


def fast_and_slow(read, path, monkeypatch):
    """What ``read`` gives on ``path`` normally, and with every reader forced to its line-by-line path."""
    fast = reads(read, path)
    with monkeypatch.context() as m:
        for module in (table, datadir, scores):
            m.setattr(module, "read_columns", lambda *a, **k: None)
        slow = reads(read, path)
    return fast, slow


@pytest.mark.parametrize("seed", range(6))
def test_readers_match_the_line_by_line_path_on_random_files(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    files = {
        "trials": (read_trials, random_trials(rng, labels=seed % 2 == 0)),
        "utt2spk": (read_utt2spk, random_table(rng, 200, 2, lambda i, j: (f"u{i:04d}", f"s{i % 9}")[j])),
        "scp": (read_scp, random_table(rng, 200, 2, lambda i, j: (f"k{i:04d}", f"/p/{i}.h5")[j], seps=[" ", "   "])),
        "scores": (read_scores, random_table(
            rng, 200, 3, lambda i, j: (f"m{i % 5}", f"t{i:04d}", f"{rng.normal():f}")[j])),
    }
    for name, (read, text) in files.items():
        path = tmp_path / name
        path.write_text(text)
        assert read_columns(path, tabs=name != "scp") is not None  # the fast path is taken
        fast, slow = fast_and_slow(read, path, monkeypatch)
        assert not isinstance(fast, str), fast
        assert fast == slow, name


BAD_FILES = [
    (read_trials, "m1 t1 target\nm1 t2\n"),
    (read_trials, "m1 t1 target\nm1 t2 maybe\n"),
    (read_trials, "m1 t1 target\nm2 t1 nontarget\nm1 t1 nontarget\n"),
    (read_trials, "m1 t1 target x\n"),
    (read_trials, "m1\n"),
    (read_trials, "m1 t1 target\r\nm2 t1 nontarget\r\n"),
    (read_trials, "m\u00e9 t1 target\nm2 t1 nontarget\n"),
    (read_trials, ""),
    (read_utt2spk, "u1 s1\nu2 s2\nu1 s3\n"),
    (read_utt2spk, "u1 s1\nu2\n"),
    (read_utt2spk, "u1 s1 x\n"),
    (read_scp, "k1 /a.h5\nk2 /b.h5\nk1 /c.h5\n"),
    (read_scp, "k1 /a.h5\nk2\n"),
    (read_scp, "k1\t/a.h5\n"),
    (read_scp, "k1 /a b.h5\n"),
    (read_scores, "m1 t1 0.5\nm1 t2 x\n"),
    (read_scores, "m1 t1 0.5\nm1 t2 nan\n"),
    (read_scores, "m1 t1 0.5\nm1 t1 0.7\n"),
    (read_scores, "m1 t1 0.5\nm1 t2\n"),
]


@pytest.mark.parametrize("read,text", BAD_FILES)
def test_readers_give_the_line_by_line_result_or_error_on_odd_files(tmp_path, monkeypatch, read, text):
    path = tmp_path / "f"
    path.write_bytes(text.encode())
    fast, slow = fast_and_slow(read, path, monkeypatch)
    assert fast == slow


def test_bad_utf8_gives_the_same_error(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"u1 s\xff\n")
    fast, slow = fast_and_slow(read_utt2spk, path, monkeypatch)
    assert fast == slow and fast.startswith("UnicodeDecodeError")


def test_an_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "trials"
    path.write_text("m1 t1 target\nm2 t1 nontarget\nm1 t1 nontarget\n")
    with pytest.raises(ValueError, match=r"trials:3: trial m1 t1 repeated \(first at line 1\)"):
        read_trials(path)
