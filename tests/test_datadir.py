"""Kaldi data dirs: round trips, trial and box readers, validation errors naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyp_face.io.datadir import (
    BoxRow,
    DataDir,
    DataDirError,
    data_dir_problems,
    read_face_boundingbox,
    read_spk2utt,
    read_trials,
    read_utt2spk,
    read_vid_scp,
    spk2utt_to_utt2spk,
    utt2spk_to_spk2utt,
    validate_data_dir,
    write_data_dir,
)
from hyp_face.io.table import TableError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def enroll_dir(tmp_path: Path) -> Path:
    media = tmp_path / "m.mp4"
    media.write_bytes(b"x")
    data = DataDir(
        vid={"b-2": str(media), "a-1": str(media), "B-3": str(media)},
        utt2spk={"b-2": "b", "a-1": "a", "B-3": "B"},
        boxes=[("b-2", "3", "1", "2", "3", "4"), ("a-1", "0.5", "1", "2", "30", "40", "e1", "e2", "e3")],
    )
    write_data_dir(tmp_path / "enroll", data)
    return tmp_path / "enroll"


def test_round_trip_sorted_c_locale(tmp_path):
    d = enroll_dir(tmp_path)
    assert [ln.split()[0] for ln in (d / "vid.scp").read_text().splitlines()] == ["B-3", "a-1", "b-2"]
    assert (d / "spk2utt").read_text() == "B B-3\na a-1\nb b-2\n"
    assert read_utt2spk(d / "utt2spk") == {"B-3": "B", "a-1": "a", "b-2": "b"}
    assert list(read_vid_scp(d / "vid.scp")) == ["B-3", "a-1", "b-2"]
    assert read_face_boundingbox(d / "face_boundingbox") == {
        "b-2": [BoxRow(3.0, (1.0, 2.0, 3.0, 4.0))],
        "a-1": [BoxRow(0.5, (1.0, 2.0, 30.0, 40.0))],
    }
    validate_data_dir(d, check_files=True)


def test_spk2utt_conversions():
    u2s = {"m-x-s2": "m-x", "m-x-s1": "m-x", "k-s": "k"}
    s2u = utt2spk_to_spk2utt(u2s)
    assert s2u == {"k": ["k-s"], "m-x": ["m-x-s1", "m-x-s2"]} and list(s2u) == ["k", "m-x"]
    assert spk2utt_to_utt2spk(s2u) == dict(sorted(u2s.items()))
    kaldi = utt2spk_to_spk2utt(u2s, sort=False)  # utt2spk_to_spk2utt.pl: order of first appearance
    assert list(kaldi.items()) == [("m-x", ["m-x-s2", "m-x-s1"]), ("k", ["k-s"])]
    assert list(spk2utt_to_utt2spk(kaldi, sort=False)) == ["m-x-s2", "m-x-s1", "k-s"]
    with pytest.raises(DataDirError, match="belongs to speakers"):
        spk2utt_to_utt2spk({"a": ["u"], "b": ["u"]})


def test_read_trials(tmp_path):
    models, tests, labels = read_trials(write(tmp_path / "t", "m1 t1 target\nm2 t1 nontarget\n\nm1 t2 target\n"))
    assert models == ["m1", "m2", "m1"] and tests == ["t1", "t1", "t2"] and labels.tolist() == [True, False, True]
    assert read_trials(write(tmp_path / "u", "m1 t1\nm2 t1\n"))[2] is None
    for text, line, match in [
        ("m1 t1 target\nm1 t2 Target\n", 2, "label must be target or nontarget, got 'Target'"),
        ("m1 t1 target\nm1 t1 nontarget\n", 2, "trial m1 t1 repeated \\(first at line 1\\)"),
        ("m1 t1 target\nm1 t2\n", 2, "expected 3 fields"),
        ("m1 t1 target x\n", 1, "expected 2..3 fields"),
    ]:
        with pytest.raises(TableError, match=f"bad:{line}: {match}"):
            read_trials(write(tmp_path / "bad", text))


def test_face_boundingbox_errors(tmp_path):
    with pytest.raises(TableError, match="fb:2: x1 is not a number"):
        read_face_boundingbox(write(tmp_path / "fb", "u 1 1 2 3 4\nu 2 x 2 3 4\n"))
    with pytest.raises(TableError, match="fb:1: expected at least 6 fields"):
        read_face_boundingbox(write(tmp_path / "fb", "u 1 1 2 3\n"))
    with pytest.raises(TableError, match="fb:1: box has x2 < x1"):
        read_face_boundingbox(write(tmp_path / "fb", "u 1 5 2 3 4\n"))


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("utt2spk", "a-1 a\nB-3 B\nb-2 b\n", "utt2spk:2: not sorted: 'B-3' after 'a-1'"),
        ("utt2spk", "B-3 B\na-1 a\n", "vid.scp:3: utterance 'b-2' is not in utt2spk"),
        ("spk2utt", "B B-3\na a-1 b-2\n", "spk2utt:2: utterances of 'a' differ from utt2spk"),
        ("vid.scp", "B-3 x\nB-3 y\n", "vid.scp:2: duplicate key 'B-3'"),
        ("face_boundingbox", "zz 1 1 2 3 4\n", "face_boundingbox:1: utterance 'zz' is not in utt2spk"),
    ],
)
def test_validate_errors(tmp_path, name, text, match):
    d = enroll_dir(tmp_path)
    write(d / name, text)
    with pytest.raises(DataDirError, match=f"{d}: invalid data dir:\n(.*\n)*  {d}/{match}"):
        validate_data_dir(d)


def test_problems_are_all_listed(tmp_path):
    """The validator lists every problem (not only the first), each naming its file and line."""
    d = enroll_dir(tmp_path)
    write(d / "utt2spk", "B-3 B\na-1 a\nb-2 b\nc-4 c\n")
    write(d / "trials", "a b-2 target\nzz a-1 maybe\n")
    assert data_dir_problems(d, enroll_dir=d, check_files=False) == [
        f"{d}/spk2utt: speaker 'c' of utt2spk is missing",
        f"{d}/vid.scp: utterance 'c-4' (utt2spk line 4) is missing",
        f"{d}/trials:2: label must be target or nontarget, got 'maybe'",
        f"{d}/trials:2: model 'zz' is not enrolled (not a speaker of the enrollment dir)",
    ]


def test_malformed_lines_hide_no_other_problem(tmp_path):
    """A line with the wrong number of fields is one problem: the other lines of its file and the other files are
    still checked."""
    d = enroll_dir(tmp_path)
    vid = (d / "vid.scp").read_text().splitlines()
    write(d / "vid.scp", "\n".join([vid[0], "lonely", *vid[1:], "alone"]) + "\n")
    write(d / "trials", "a a-1 target\nb b-2 tgt\nB B-3 target\nb a-1 target extra\n")
    assert data_dir_problems(d, check_files=False) == [
        f"{d}/vid.scp:2: expected at least 2 fields, got 1: 'lonely'",
        f"{d}/vid.scp:5: expected at least 2 fields, got 1: 'alone'",
        f"{d}/trials:4: expected 2..3 fields, got 4: 'b a-1 target extra'",
        f"{d}/trials:2: label must be target or nontarget, got 'tgt'",
    ]
    write(d / "utt2spk", "B-3 B\na-1\nb-2 b\n")  # a bad utt2spk line: the other files are checked without it
    problems = data_dir_problems(d, check_files=False)
    assert problems[0] == f"{d}/utt2spk:2: expected 2 fields, got 1: 'a-1'"
    assert f"{d}/trials:2: label must be target or nontarget, got 'tgt'" in problems


def test_validate_trials_and_media(tmp_path):
    d = enroll_dir(tmp_path)
    test = tmp_path / "test"
    write_data_dir(test, DataDir({"t1": "/nonexistent.mp4"}, {"t1": "t1"}, trials=[("a", "t1", "target")]))
    validate_data_dir(test, enroll_dir=d)
    with pytest.raises(DataDirError, match="vid.scp:1: file of 't1' is missing: /nonexistent.mp4"):
        validate_data_dir(test, check_files=True)
    write(test / "trials", "a t1 target\nzz t1 nontarget\n")
    with pytest.raises(DataDirError, match="trials:2: model 'zz' is not enrolled"):
        validate_data_dir(test, enroll_dir=d)
    write(test / "trials", "a t9 target\n")
    with pytest.raises(DataDirError, match="trials:1: test utterance 't9' is not in utt2spk"):
        validate_data_dir(test)
    # rewriting without trials removes the stale file
    write_data_dir(test, DataDir({"t1": "/x.mp4"}, {"t1": "t1"}))
    assert not (test / "trials").exists() and read_spk2utt(test / "spk2utt") == {"t1": ["t1"]}
