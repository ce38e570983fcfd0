"""LDC (SRE19 AV, JANUS) and folder-corpus data preparation on mock corpora in the exact layouts.

Expected outputs are written out by hand (golden lines), following docs/original_recipe.md §4.1/4.2.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from hyp_face.io.datadir import DataDirError, read_trials, validate_data_dir
from hyp_face.io.folder_corpus import prepare_folder_corpus
from hyp_face.io.ldc import prepare_janus_core, prepare_sre19av, read_exclude_list
from hyp_face.io.table import TableError

ROOT = Path(__file__).resolve().parents[1]

SRE19_ENROLL = [
    "modelid\tsegmentid",
    "1001_sre19\taaa111",
    "1002_sre19\tbbb222",
    "m-x\tccc333",
    "1003_sre19\taaa111",
]
SRE19_BBOX = [
    "segmentid\tframe\ttime\tbbox\tc5\tc6\tc7",
    "aaa111\t12\t1.5\t10,20,110,140\ta\tb\tc",
    "ccc333\t3\t0.2\t5,6,50,60\tx\ty\tz",
    "aaa111\t40\t4.25\t12,22,112,142\ta\tb\tc",
    "bbb222\t7\t2.0\t1,2,3,4\tp\tq\tr",
]
SRE19_TRIALS = [
    "modelid\tsegmentid\tside",
    "1001_sre19\tttt1\tA",
    "1002_sre19\tttt2\tA",
    "m-x\tttt1\tB",
    "1003_sre19\tttt3\tA",
]
SRE19_KEY = [
    "modelid\tsegmentid\tside\ttargettype",
    "1001_sre19\tttt1\tA\ttarget",
    "1002_sre19\tttt2\tA\tnontarget",
    "m-x\tttt1\tB\tnontarget",
    "1003_sre19\tttt3\tA\ttarget",
]

JANUS_HEADER = (
    "VIDEO\tSUBJECT_ID\tDEV.ENROLL\tDEV.CORE.TEST\tDEV.FULL.TEST\tEVAL.ENROLL\tEVAL.CORE.TEST\tEVAL.FULL.TEST\t"
    "VOICE_START\tVOICE_END\tFACE_FRAME\tFACE_X\tFACE_Y\tFACE_W\tFACE_H"
)
JANUS_MEDIA = [
    JANUS_HEADER,
    "video/1.mp4\ts1\tY\tN\tN\tN\tN\tN\t0.0\t5.0\t57\t312\t80\t86\t110",
    "video/2.mp4\ts1\tN\tY\tY\tN\tN\tN\t0.0\t5.0\t\t\t\t\t",
    "video/3.mp4\ts2\tN\tY\tY\tN\tN\tN\t0.0\t5.0\t\t\t\t\t",
    "video/10.mp4\ts2\tN\tN\tN\tY\tN\tN\t0.0\t5.0\t12\t10.5\t20\t30.25\t40",
    "video/1041.mp4\ts1\tN\tN\tN\tN\tY\tY\t0.0\t5.0\t\t\t\t\t",
    "video/21.mp4\ts1\tN\tN\tN\tN\tY\tY\t0.0\t5.0\t\t\t\t\t",
    "video/20.mp4\ts2\tN\tN\tN\tN\tY\tY\t0.0\t5.0\t\t\t\t\t",
    "video/30.mp4\ts3\tY\tN\tN\tN\tN\tN\t0.0\t5.0\t9\t1\t2\t3\t4",
]
JANUS_TRIALS = [
    "ENROLL_FILE\tTEST_FILE\tLABEL\tCONDITION",
    "video/1.mp4\tvideo/3.mp4\tN\tDEV.CORE",
    "video/1.mp4\tvideo/2.mp4\tY\tDEV.CORE",
    "video/30.mp4\tvideo/2.mp4\tN\tDEV.CORE",
    "video/1.mp4\tvideo/99.mp4\tN\tDEV.FULL",
    "video/10.mp4\tvideo/21.mp4\tN\tEVAL.CORE",
    "video/10.mp4\tvideo/1041.mp4\tN\tEVAL.CORE",
    "video/10.mp4\tvideo/20.mp4\tY\tEVAL.CORE",
]


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def touch_media(path: Path, size: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def make_sre19(root: Path, subset: str = "dev", **files: list[str]) -> Path:
    """Mock SRE19 AV corpus: docs/*.tsv (overridable) and non-empty mp4 files of every id."""
    docs = {"enrollment": SRE19_ENROLL, "enrollment_boundingbox": SRE19_BBOX, "trials": SRE19_TRIALS, "trial_key": SRE19_KEY}
    docs.update(files)
    for name, lines in docs.items():
        write(root / "docs" / f"sre19_av_{subset}_{name}.tsv", lines)
    for seg in ("aaa111", "bbb222", "ccc333"):
        touch_media(root / "data" / "enrollment" / f"{seg}.mp4")
    for seg in ("ttt1", "ttt2", "ttt3"):
        touch_media(root / "data" / "test" / f"{seg}.mp4")
    return root


def make_janus(root: Path, media: list[str] = JANUS_MEDIA, trials: list[str] = JANUS_TRIALS) -> Path:
    """Mock JANUS Multimedia corpus: docs/janus_multimedia{,_trials}.tsv and non-empty videos/<n>.mp4."""
    write(root / "docs" / "janus_multimedia.tsv", media)
    write(root / "docs" / "janus_multimedia_trials.tsv", trials)
    for n in (1, 2, 3, 10, 1041, 20, 21, 30):
        touch_media(root / "videos" / f"{n}.mp4")
    return root


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# ----------------------------------------------------------------------------------------------- SRE19 AV


def test_sre19_golden(tmp_path):
    root = str(make_sre19(tmp_path / "LDC2019E56"))
    prepare_sre19av(root, tmp_path / "data", "dev")
    enroll, test = tmp_path / "data" / "sre19_av_v_dev_enroll", tmp_path / "data" / "sre19_av_v_dev_test"
    assert lines(enroll / "vid.scp") == [
        f"1001_sre19-aaa111 {root}/data/enrollment/aaa111.mp4",
        f"1002_sre19-bbb222 {root}/data/enrollment/bbb222.mp4",
        f"1003_sre19-aaa111 {root}/data/enrollment/aaa111.mp4",
        f"m-x-ccc333 {root}/data/enrollment/ccc333.mp4",
    ]
    assert lines(enroll / "utt2spk") == [
        "1001_sre19-aaa111 1001_sre19", "1002_sre19-bbb222 1002_sre19", "1003_sre19-aaa111 1003_sre19", "m-x-ccc333 m-x",
    ]  # fmt: skip
    assert lines(enroll / "spk2utt") == [
        "1001_sre19 1001_sre19-aaa111", "1002_sre19 1002_sre19-bbb222", "1003_sre19 1003_sre19-aaa111", "m-x m-x-ccc333",
    ]  # fmt: skip
    # bbox-file order; a segment enrolled by two models gives each model's utt the rows
    assert lines(enroll / "face_boundingbox") == [
        "1001_sre19-aaa111 1.5 10 20 110 140 a b c",
        "1003_sre19-aaa111 1.5 10 20 110 140 a b c",
        "m-x-ccc333 0.2 5 6 50 60 x y z",
        "1001_sre19-aaa111 4.25 12 22 112 142 a b c",
        "1003_sre19-aaa111 4.25 12 22 112 142 a b c",
        "1002_sre19-bbb222 2.0 1 2 3 4 p q r",
    ]
    assert lines(test / "vid.scp") == [f"ttt{i} {root}/data/test/ttt{i}.mp4" for i in (1, 2, 3)]
    assert lines(test / "utt2spk") == lines(test / "spk2utt") == ["ttt1 ttt1", "ttt2 ttt2", "ttt3 ttt3"]
    assert lines(test / "trials") == [
        "1001_sre19 ttt1 target", "1002_sre19 ttt2 nontarget", "m-x ttt1 nontarget", "1003_sre19 ttt3 target",
    ]  # fmt: skip
    docs = Path(root) / "docs"
    assert (test / "trials.tsv").read_bytes() == (docs / "sre19_av_dev_trials.tsv").read_bytes()
    assert (test / "trial_key.tsv").read_bytes() == (docs / "sre19_av_dev_trial_key.tsv").read_bytes()
    assert not (test / "face_boundingbox").exists() and not (enroll / "trials").exists()
    validate_data_dir(test, enroll_dir=enroll)


def test_sre19_positional_fallback_without_headers(tmp_path):
    """No header lines, space-separated: the documented positions give the same data dirs."""
    headed = make_sre19(tmp_path / "a", "eval")
    bare = make_sre19(
        tmp_path / "b",
        "eval",
        **{n: [ln.replace("\t", " ") for ln in v[1:]] for n, v in
           (("enrollment", SRE19_ENROLL), ("enrollment_boundingbox", SRE19_BBOX), ("trials", SRE19_TRIALS), ("trial_key", SRE19_KEY))},
    )  # fmt: skip
    prepare_sre19av(str(headed), tmp_path / "da", "eval")
    prepare_sre19av(str(bare), tmp_path / "db", "eval")
    for sub in ("sre19_av_v_eval_enroll", "sre19_av_v_eval_test"):
        for name in ("utt2spk", "spk2utt", "face_boundingbox", "trials"):
            if (tmp_path / "da" / sub / name).exists():
                assert lines(tmp_path / "da" / sub / name) == lines(tmp_path / "db" / sub / name), (sub, name)


def test_sre19_header_by_name(tmp_path):
    """Columns are found by name wherever they are."""
    enroll = ["segmentid\tmodelid"] + ["\t".join(reversed(ln.split("\t"))) for ln in SRE19_ENROLL[1:]]
    key = ["targettype\tmodelid\tsegmentid\tside"] + [
        "\t".join([f[3], f[0], f[1], f[2]]) for f in (ln.split("\t") for ln in SRE19_KEY[1:])
    ]
    root = make_sre19(tmp_path / "c", enrollment=enroll, trial_key=key)
    prepare_sre19av(str(root), tmp_path / "data", "dev")
    assert lines(tmp_path / "data/sre19_av_v_dev_enroll/utt2spk")[-1] == "m-x-ccc333 m-x"
    assert lines(tmp_path / "data/sre19_av_v_dev_test/trials")[0] == "1001_sre19 ttt1 target"


@pytest.mark.parametrize(
    "name, bad_lines, line, match",
    [
        ("enrollment", SRE19_ENROLL[:2] + ["1009_sre19"] + SRE19_ENROLL[2:], 3, "expected at least 2 fields"),
        ("enrollment", SRE19_ENROLL + ["1002_sre19\tbbb222"], 6, "duplicate model/segment"),
        ("trial_key", SRE19_KEY[:3] + ["m-x\tttt1\tB\ttgt"] + SRE19_KEY[4:], 4, "unknown targettype 'tgt'"),
        ("trial_key", SRE19_KEY + ["m-x\tttt1\tB\tnontarget"], 6, "duplicate model/segment"),
        ("trial_key", SRE19_KEY + ["1001_sre19\tttt2\tA\tnontarget"], 6, "is not in"),
        ("trials", SRE19_TRIALS + ["1002_sre19\tttt3\tA"], 6, "is not in"),
        ("trials", SRE19_TRIALS + ["9999_sre19\tttt3\tA"], 6, "model '9999_sre19' is not in"),
        ("enrollment_boundingbox", SRE19_BBOX[:2] + ["bbb222\t7\t2.0\t1,2,3\tp\tq\tr"], 3, "box must be x1,y1,x2,y2"),
        ("enrollment_boundingbox", SRE19_BBOX + ["bbb222\t7\tnan\t1,2,3,4\tp\tq\tr"], 6, "instant is not finite"),
        ("enrollment_boundingbox", SRE19_BBOX + ["bbb222\t7\t3\t9,2,3,4\tp\tq\tr"], 6, "x2 < x1"),
    ],
)
def test_sre19_bad_lines_name_file_and_line(tmp_path, name, bad_lines, line, match):
    root = make_sre19(tmp_path / "r", **{name: bad_lines})
    with pytest.raises(TableError, match=match) as err:
        prepare_sre19av(str(root), tmp_path / "data", "dev")
    assert err.value.path.endswith(f"sre19_av_dev_{name}.tsv") and err.value.lineno == line
    assert f"sre19_av_dev_{name}.tsv:{line}:" in str(err.value)


def test_sre19_missing_empty_and_excluded_videos(tmp_path, caplog):
    root = make_sre19(tmp_path / "r")
    (root / "data/test/ttt2.mp4").unlink()
    (root / "data/enrollment/ccc333.mp4").write_bytes(b"")
    with pytest.raises(DataDirError, match=r"ccc333.mp4 \(empty\)"):
        prepare_sre19av(str(root), tmp_path / "strict", "dev", strict=True)
    exclude = read_exclude_list(write(tmp_path / "excl.txt", ["# broken", "ttt3  # unreadable", ""]))
    assert exclude == {"ttt3"}
    with caplog.at_level(logging.WARNING):
        prepare_sre19av(str(root), tmp_path / "data", "dev", exclude=exclude)
    assert "ccc333.mp4 (empty)" in caplog.text and "ttt2.mp4 (missing)" in caplog.text and "dropped 3 trials" in caplog.text
    data = tmp_path / "data"
    assert lines(data / "sre19_av_v_dev_test/vid.scp") == [f"ttt1 {root}/data/test/ttt1.mp4"]
    assert lines(data / "sre19_av_v_dev_test/trials") == ["1001_sre19 ttt1 target"]
    assert "m-x-ccc333 m-x" not in lines(data / "sre19_av_v_dev_enroll/utt2spk")
    assert not any(ln.startswith("m-x-") for ln in lines(data / "sre19_av_v_dev_enroll/face_boundingbox"))


def test_sre19_wrong_root_is_an_error(tmp_path):
    root = make_sre19(tmp_path / "r")
    for f in (root / "data/test").iterdir():
        f.unlink()
    with pytest.raises(DataDirError, match="no usable file at all"):
        prepare_sre19av(str(root), tmp_path / "data", "dev")


# ----------------------------------------------------------------------------------------------- JANUS


def test_janus_golden(tmp_path):
    root = str(make_janus(tmp_path / "Janus_Multimedia_Dataset"))
    prepare_janus_core(root, tmp_path / "data", exclude=read_exclude_list(ROOT / "local" / "janus_exclude.txt"))
    d = tmp_path / "data"
    assert lines(d / "janus_dev_enroll/vid.scp") == [f"video/1.mp4 {root}/videos/1.mp4", f"video/30.mp4 {root}/videos/30.mp4"]
    assert lines(d / "janus_dev_enroll/utt2spk") == lines(d / "janus_dev_enroll/spk2utt") == [
        "video/1.mp4 video/1.mp4", "video/30.mp4 video/30.mp4",
    ]  # fmt: skip
    assert lines(d / "janus_dev_enroll/face_boundingbox") == ["video/1.mp4 57 312 80 398 190", "video/30.mp4 9 1 2 4 6"]
    assert lines(d / "janus_dev_test_core/vid.scp") == [f"video/2.mp4 {root}/videos/2.mp4", f"video/3.mp4 {root}/videos/3.mp4"]
    assert lines(d / "janus_dev_test_core/trials") == [
        "video/1.mp4 video/3.mp4 nontarget", "video/1.mp4 video/2.mp4 target", "video/30.mp4 video/2.mp4 nontarget",
    ]  # fmt: skip
    assert lines(d / "janus_eval_enroll/face_boundingbox") == ["video/10.mp4 12 10.5 20 40.75 60"]
    # video/1041.mp4 is in local/janus_exclude.txt: out of vid.scp, and its trial dropped
    assert lines(d / "janus_eval_test_core/vid.scp") == [f"video/20.mp4 {root}/videos/20.mp4", f"video/21.mp4 {root}/videos/21.mp4"]
    assert lines(d / "janus_eval_test_core/trials") == ["video/10.mp4 video/21.mp4 nontarget", "video/10.mp4 video/20.mp4 target"]
    assert lines(d / "janus_eval_test_core/spk2utt") == ["video/20.mp4 video/20.mp4", "video/21.mp4 video/21.mp4"]


def test_janus_without_header_and_width_height_by_name(tmp_path):
    prepare_janus_core(str(make_janus(tmp_path / "a", JANUS_MEDIA[1:], JANUS_TRIALS[1:])), tmp_path / "da")
    assert lines(tmp_path / "da/janus_dev_enroll/face_boundingbox")[0] == "video/1.mp4 57 312 80 398 190"
    assert len(lines(tmp_path / "da/janus_eval_test_core/trials")) == 3  # no exclusion list given
    swapped = [JANUS_HEADER.replace("FACE_W\tFACE_H", "FACE_H\tFACE_W")] + JANUS_MEDIA[1:]
    prepare_janus_core(str(make_janus(tmp_path / "b", swapped)), tmp_path / "db")
    assert lines(tmp_path / "db/janus_dev_enroll/face_boundingbox")[0] == "video/1.mp4 57 312 80 422 166"


@pytest.mark.parametrize(
    "which, extra, line, match",
    [
        ("trials", ["video/30.mp4\tvideo/3.mp4\tX\tDEV.CORE"], 9, "unknown LABEL 'X'"),
        ("trials", ["video/1.mp4\tvideo/3.mp4\tY\tDEV.CORE"], 9, "duplicate enroll/test"),
        ("trials", ["video/2.mp4\tvideo/3.mp4\tY\tDEV.CORE"], 9, "ENROLL_FILE 'video/2.mp4' is not"),
        ("trials", ["video/1.mp4\tvideo/20.mp4\tY\tDEV.CORE"], 9, "TEST_FILE 'video/20.mp4' is not"),
        ("media", ["video/1.mp4\ts1\tN\tN\tN\tN\tN\tN\t0\t5\t\t\t\t\t"], 10, "duplicate video"),
        ("media", ["video/5.mp4\ts1\tY\tN\tN\tN\tN\tN\t0\t5\t1\tabc\t2\t3\t4"], 10, "face_x is not a number: 'abc'"),
    ],
)
def test_janus_bad_lines_name_file_and_line(tmp_path, which, extra, line, match):
    media, trials = (JANUS_MEDIA + extra, JANUS_TRIALS) if which == "media" else (JANUS_MEDIA, JANUS_TRIALS + extra)
    root = make_janus(tmp_path / "r", media, trials)
    (root / "videos/5.mp4").write_bytes(b"x")
    with pytest.raises(TableError, match=match) as err:
        prepare_janus_core(str(root), tmp_path / "data")
    name = "janus_multimedia.tsv" if which == "media" else "janus_multimedia_trials.tsv"
    assert f"{name}:{line}:" in str(err.value)


def test_janus_empty_video_excluded_everywhere(tmp_path):
    root = make_janus(tmp_path / "r")
    (root / "videos/2.mp4").write_bytes(b"")
    prepare_janus_core(str(root), tmp_path / "data")
    d = tmp_path / "data"
    assert lines(d / "janus_dev_test_core/utt2spk") == ["video/3.mp4 video/3.mp4"]
    assert lines(d / "janus_dev_test_core/trials") == ["video/1.mp4 video/3.mp4 nontarget"]
    with pytest.raises(DataDirError, match="2.mp4 \\(empty\\)"):
        prepare_janus_core(str(root), tmp_path / "strict", strict=True)


# ----------------------------------------------------------------------------------------------- shell wrappers


def run_sh(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HYP_FACE_PYTHON": os.environ.get("HYP_FACE_PYTHON", "python3"), **(env or {})}
    return subprocess.run(["bash", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def test_run_001_with_roots_from_environment(tmp_path):
    sre_dev, sre_eval = make_sre19(tmp_path / "dev"), make_sre19(tmp_path / "eval", "eval")
    janus = make_janus(tmp_path / "janus")
    out = tmp_path / "data"
    env = {"SRE19_DEV_ROOT": str(sre_dev), "SRE19_EVAL_ROOT": str(sre_eval), "JANUS_ROOT": str(janus),
           "HYP_FACE_DATAPATH": str(write(tmp_path / "dp.sh", ["JANUS_ROOT=/nonexistent"]))}  # fmt: skip
    r = run_sh(["-c", f'local/make_sre19av_v_dev.sh "$SRE19_DEV_ROOT" {out} && local/make_sre19av_v_eval.sh "$SRE19_EVAL_ROOT" {out} '
                f'&& local/make_janus_core.sh "$JANUS_ROOT" {out}'], env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert lines(out / "sre19_av_v_eval_test/trials")[0] == "1001_sre19 ttt1 target"
    assert len(lines(out / "janus_eval_test_core/trials")) == 2  # default exclusion list dropped video/1041.mp4
    # run_001 checks the roots through datapath.sh: the environment wins over the file
    r = run_sh(["run_001_prepare_data.sh", "--stage", "2", "--stop-stage", "2"], {**env, "JANUS_ROOT": ""})
    assert r.returncode != 0 and "JANUS_ROOT=/nonexistent is not an existing directory" in r.stderr
    no_file = {"SRE19_EVAL_ROOT": "", "HYP_FACE_DATAPATH": str(write(tmp_path / "empty.sh", []))}
    r = run_sh(["run_001_prepare_data.sh", "--stage", "1", "--stop-stage", "1"], {**env, **no_file})
    assert r.returncode != 0 and "SRE19_EVAL_ROOT is not set" in r.stderr


# ----------------------------------------------------------------------------------------------- folder corpus


def make_folder_corpus(root: Path) -> Path:
    touch_media(root / "enroll/alice/portrait.jpg")
    write(root / "enroll/alice/portrait.box", ["0 10 20 110 140"])
    touch_media(root / "enroll/bob-smith/clip.MP4")
    write(root / "enroll/bob-smith/clip.box", ["2.5 1 2 30 40", "1.0 3 4 33 44"])
    touch_media(root / "enroll/bob-smith/notes.txt")
    touch_media(root / "test/cam1/x.mp4")
    touch_media(root / "test/p.png")
    return root


def test_folder_corpus_golden(tmp_path):
    corpus = make_folder_corpus(tmp_path / "faces")
    trials = write(tmp_path / "trials", ["alice cam1/x target", "bob-smith cam1/x nontarget", "bob-smith p target"])
    prepare_folder_corpus(corpus, trials, tmp_path / "data" / "faces")
    enroll, test = tmp_path / "data/faces_enroll", tmp_path / "data/faces_test"
    c = corpus.resolve()
    assert lines(enroll / "vid.scp") == [
        f"alice-portrait {c}/enroll/alice/portrait.jpg", f"bob-smith-clip {c}/enroll/bob-smith/clip.MP4",
    ]  # fmt: skip
    assert lines(enroll / "spk2utt") == ["alice alice-portrait", "bob-smith bob-smith-clip"]
    assert lines(enroll / "face_boundingbox") == [
        "alice-portrait 0 10 20 110 140", "bob-smith-clip 2.5 1 2 30 40", "bob-smith-clip 1.0 3 4 33 44",
    ]  # fmt: skip
    assert lines(test / "vid.scp") == [f"cam1/x {c}/test/cam1/x.mp4", f"p {c}/test/p.png"]
    assert lines(test / "trials") == lines(trials)
    models, tests, labels = read_trials(test / "trials")
    assert models == ["alice", "bob-smith", "bob-smith"] and labels.tolist() == [True, False, True]


def test_folder_corpus_unlabelled_and_errors(tmp_path):
    corpus = make_folder_corpus(tmp_path / "faces")
    prepare_folder_corpus(corpus, write(tmp_path / "t2", ["alice p", "bob-smith p"]), tmp_path / "data/u")
    assert read_trials(tmp_path / "data/u_test/trials")[2] is None
    with pytest.raises(TableError, match=r"t3:2: test 'cam1/x.mp4' is not a medium"):
        prepare_folder_corpus(corpus, write(tmp_path / "t3", ["alice p target", "alice cam1/x.mp4 target"]), tmp_path / "d")
    with pytest.raises(TableError, match=r"t4:1: model 'carol' has no folder"):
        prepare_folder_corpus(corpus, write(tmp_path / "t4", ["carol p target"]), tmp_path / "d")
    write(corpus / "enroll/alice/portrait.box", ["0 10 20 110"])
    with pytest.raises(TableError, match=r"portrait.box:1: expected 5 fields"):
        prepare_folder_corpus(corpus, write(tmp_path / "t5", ["alice p"]), tmp_path / "d")


def test_folder_corpus_empty_file_and_shell_step(tmp_path):
    corpus = make_folder_corpus(tmp_path / "faces")
    (corpus / "test/p.png").write_bytes(b"")
    trials = write(tmp_path / "trials", ["alice cam1/x target", "bob-smith p target"])
    r = run_sh(["steps/make_data_from_folder.sh", str(corpus), str(trials), str(tmp_path / "data/f")])
    assert r.returncode == 0, r.stderr
    assert "p.png (empty)" in r.stderr
    assert lines(tmp_path / "data/f_test/trials") == ["alice cam1/x target"]
    r = run_sh(["steps/make_data_from_folder.sh", "--strict", "true", str(corpus), str(trials), str(tmp_path / "data/g")])
    assert r.returncode != 0 and "p.png (empty)" in r.stderr
