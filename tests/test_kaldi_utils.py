"""Kaldi data helpers in utils/ (shims over hyp_face.bin): spk2utt conversions, split_scp.pl, fix_data_dir.sh,
validate_data_dir.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UTILS = ROOT / "utils"


def tool(name: str, *args: str, stdin: str | None = None, cwd: Path | None = None):
    return subprocess.run([str(UTILS / name), *map(str, args)], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# utt2spk <-> spk2utt


def test_utt2spk_to_spk2utt_and_back():
    utt2spk = "m1-a m1\nm1-b m1\nm2-c m2\nx-1 x\n"
    res = tool("utt2spk_to_spk2utt.pl", stdin=utt2spk)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "m1 m1-a m1-b\nm2 m2-c\nx x-1\n"
    back = tool("spk2utt_to_utt2spk.pl", stdin=res.stdout)
    assert back.stdout == utt2spk


def test_utt2spk_to_spk2utt_keeps_first_appearance_order_and_reads_files(tmp_path):
    f = write(tmp_path / "utt2spk", "u1 b\nu2 a\nu3 b\n")
    assert tool("utt2spk_to_spk2utt.pl", f).stdout == "b u1 u3\na u2\n"


def test_utt2spk_to_spk2utt_rejects_bad_line(tmp_path):
    f = write(tmp_path / "utt2spk", "u1 a\nu2\n")
    res = tool("utt2spk_to_spk2utt.pl", f)
    assert res.returncode != 0
    assert f"{f}:2: expected 2 fields" in res.stderr


# ---------------------------------------------------------------------------------------------
# split_scp.pl


def scp_lines(n: int) -> str:
    return "".join(f"utt{i:02d} /v/{i}.mp4\n" for i in range(1, n + 1))


def test_split_scp_contiguous_kaldi_sizes(tmp_path):
    scp = write(tmp_path / "vid.scp", scp_lines(7))
    outs = [tmp_path / f"vid.{j}.scp" for j in (1, 2, 3)]
    res = tool("split_scp.pl", scp, *outs)
    assert res.returncode == 0, res.stderr
    parts = [o.read_text().splitlines() for o in outs]
    assert [len(p) for p in parts] == [3, 2, 2]  # the first 7 % 3 parts get one more
    assert sum(parts, []) == scp.read_text().splitlines()


def test_split_scp_single_job_to_stdout(tmp_path):
    scp = write(tmp_path / "vid.scp", scp_lines(7))
    res = tool("split_scp.pl", "-j", "3", "1", scp)
    assert res.stdout.splitlines() == scp.read_text().splitlines()[3:5]


def test_split_scp_keeps_speakers_whole(tmp_path):
    utts = [("a", 3), ("b", 1), ("c", 1), ("d", 3), ("e", 2)]
    scp_text = "".join(f"{s}-{i} p\n" for s, n in utts for i in range(n))
    scp = write(tmp_path / "vid.scp", scp_text)
    u2s = write(tmp_path / "utt2spk", "".join(f"{s}-{i} {s}\n" for s, n in utts for i in range(n)))
    outs = [tmp_path / "o1", tmp_path / "o2", tmp_path / "o3"]
    res = tool("split_scp.pl", f"--utt2spk={u2s}", scp, *outs)
    assert res.returncode == 0, res.stderr
    spk_sets = [{line.split("-")[0] for line in o.read_text().splitlines()} for o in outs]
    assert spk_sets == [{"a"}, {"b", "c", "d"}, {"e"}]  # 3 / 5 / 2 lines, closest to 10/3 each
    assert "".join(o.read_text() for o in outs) == scp_text


def test_split_scp_refuses_too_many_parts(tmp_path):
    scp = write(tmp_path / "vid.scp", scp_lines(2))
    res = tool("split_scp.pl", scp, tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert res.returncode != 0 and "cannot split 2 lines into 3 parts" in res.stderr


# ---------------------------------------------------------------------------------------------
# fix_data_dir.sh


@pytest.fixture
def media(tmp_path):
    """Three non-empty fake media files."""
    paths = {}
    for name in ("a", "b", "c"):
        paths[name] = write(tmp_path / "media" / f"{name}.mp4", "x")
    return paths


def enroll_dir(root: Path, media: dict[str, Path]) -> Path:
    data = root / "enroll"
    write(data / "utt2spk", "m2-b m2\nm1-a m1\nm3-c m3\n")
    write(data / "vid.scp", f"m1-a {media['a']}\nm2-b {media['b']}\nm2-b {media['b']}\n")
    write(data / "face_boundingbox", "m2-b 5 1 2 3 4 x y z\nm1-a 9 1 1 2 2 x y z\nm2-b 1 5 6 7 8 x y z\n")
    return data


def test_fix_data_dir_sorts_intersects_and_backs_up(tmp_path, media):
    data = enroll_dir(tmp_path, media)
    original = (data / "utt2spk").read_text()
    res = tool("fix_data_dir.sh", data)
    assert res.returncode == 0, res.stderr
    assert "kept 2 of the 3 utterances of utt2spk" in res.stderr
    assert (data / "utt2spk").read_text() == "m1-a m1\nm2-b m2\n"
    assert (data / "spk2utt").read_text() == "m1 m1-a\nm2 m2-b\n"
    assert (data / "vid.scp").read_text() == f"m1-a {media['a']}\nm2-b {media['b']}\n"
    # stable: the two m2-b boxes keep their relative order
    assert (data / "face_boundingbox").read_text().splitlines() == [
        "m1-a 9 1 1 2 2 x y z", "m2-b 5 1 2 3 4 x y z", "m2-b 1 5 6 7 8 x y z"]
    assert (data / ".backup/utt2spk").read_text() == original
    assert tool("validate_data_dir.sh", "--no-wav", "--no-text", "--no-feats", data).returncode == 0


def test_fix_data_dir_drops_the_trials_of_dropped_utterances(tmp_path, media):
    data = enroll_dir(tmp_path, media)
    write(data / "trials", "m1 m1-a target\nm1 m3-c nontarget\nm2 m2-b target\n")
    res = tool("fix_data_dir.sh", data)
    assert res.returncode == 0, res.stderr
    assert "dropped 1 of 3 trials, whose test utterance is gone" in res.stderr
    assert (data / "trials").read_text() == "m1 m1-a target\nm2 m2-b target\n"
    assert (data / ".backup/trials").read_text().count("\n") == 3
    assert tool("validate_data_dir.sh", "--no-wav", "--no-text", "--no-feats", data).returncode == 0
    res = tool("fix_data_dir.sh", tmp_path / "nope")
    assert res.returncode == 1 and "nope: not a directory" in res.stderr


def test_fix_data_dir_rejects_conflicting_duplicates(tmp_path, media):
    data = enroll_dir(tmp_path, media)
    write(data / "vid.scp", f"m1-a {media['a']}\nm1-a {media['c']}\n")
    res = tool("fix_data_dir.sh", data)
    assert res.returncode != 0
    assert f"{data}/vid.scp:2: key 'm1-a' repeated with a different value" in res.stderr


# ---------------------------------------------------------------------------------------------
# validate_data_dir.sh


def make_test_dir(root: Path, media: dict[str, Path]) -> Path:
    data = root / "test"
    write(data / "utt2spk", "a a\nb b\n")
    write(data / "spk2utt", "a a\nb b\n")
    write(data / "vid.scp", f"a {media['a']}\nb {media['b']}\n")
    write(data / "trials", "m1 a target\nm1 b nontarget\nm2 a nontarget\n")
    return data


def test_validate_accepts_good_dir(tmp_path, media):
    res = tool("validate_data_dir.sh", make_test_dir(tmp_path, media))
    assert res.returncode == 0, res.stderr
    assert "Successfully validated" in res.stderr


@pytest.mark.parametrize("name,text,message", [
    ("trials", "m1 a target\nm1 b maybe\n", "trials:2: label must be target or nontarget, got 'maybe'"),
    ("trials", "m1 a target\nm1 b\n", "trials:2: expected 3 fields like line 1, got 2"),
    ("trials", "m1 a target\nm1 b x y\n", "trials:2: expected 2..3 fields, got 4"),
    ("trials", "m1 a target\nm1 zz nontarget\n", "trials:2: test utterance 'zz' is not in utt2spk"),
    ("trials", "m1 a target\nm1 a target\n", "trials:2: trial m1 a repeated (first at line 1)"),
    ("utt2spk", "b b\na a\n", "utt2spk:2: not sorted: 'a' after 'b'"),
    ("spk2utt", "a a\nb b c\n", "spk2utt:2: utterances of 'b' differ from utt2spk"),
    ("vid.scp", "a {a}\na {a}\n", "vid.scp:2: duplicate key 'a'"),
    ("vid.scp", "a {a}\n", "vid.scp: utterance 'b' (utt2spk line 2) is missing"),
    ("vid.scp", "a {a}\nb /nonexistent/b.mp4\n", "vid.scp:2: file of 'b' is missing: /nonexistent/b.mp4"),
    ("vid.scp", "a {a}\nb {empty}\n", "vid.scp:2: file of 'b' is empty"),
    ("face_boundingbox", "a 1 2 3 4 5\nb 1 2 x 4 5\n", "face_boundingbox:2: y1 is not a number: 'x'"),
    ("face_boundingbox", "a 1 2 3 4 5\nq 1 2 3 4 5\n", "face_boundingbox:2: utterance 'q' is not in utt2spk"),
    ("face_boundingbox", "a 1 2 3 4\n", "face_boundingbox:1: expected at least 6 fields, got 5"),
    ("face_boundingbox", "a 1 5 3 4 5\n", "face_boundingbox:1: box has x2 < x1 or y2 < y1"),
])
def test_validate_reports_file_and_line(tmp_path, media, name, text, message):
    data = make_test_dir(tmp_path, media)
    empty = write(tmp_path / "media/empty.mp4", "")
    write(data / name, text.format(a=media["a"], empty=empty))
    res = tool("validate_data_dir.sh", "--no-wav", "--no-feats", data)
    assert res.returncode == 1
    assert f"{data}/{message}" in res.stderr, res.stderr


def test_validate_accepts_unlabelled_trials(tmp_path, media):
    data = make_test_dir(tmp_path, media)
    write(data / "trials", "m1 a\nm1 b\n")
    res = tool("validate_data_dir.sh", data)
    assert res.returncode == 0, res.stderr


def test_validate_no_check_files_skips_paths(tmp_path, media):
    data = make_test_dir(tmp_path, media)
    write(data / "vid.scp", "a /nonexistent/a.mp4\nb /nonexistent/b.mp4\n")
    assert tool("validate_data_dir.sh", data).returncode == 1
    assert tool("validate_data_dir.sh", "--no-check-files", data).returncode == 0


def test_validate_missing_required_file(tmp_path, media):
    data = make_test_dir(tmp_path, media)
    (data / "spk2utt").unlink()
    res = tool("validate_data_dir.sh", data)
    assert res.returncode == 1 and f"{data}/spk2utt: missing (required)" in res.stderr


# ---------------------------------------------------------------------------------------------
# utils/ are thin shims over the package


SHIMS = {"validate_data_dir.sh": "validate_data_dir", "fix_data_dir.sh": "fix_data_dir",
         "split_scp.pl": "split_scp", "utt2spk_to_spk2utt.pl": "utt2spk_to_spk2utt",
         "spk2utt_to_utt2spk.pl": "spk2utt_to_utt2spk", "run.pl": "run_pl", "slurm.pl": "slurm_pl",
         "queue.pl": "queue_pl"}


@pytest.mark.parametrize("name,module", SHIMS.items())
def test_utils_are_shims_over_hyp_face_bin_with_a_usage_line(name, module):
    text = (UTILS / name).read_text()
    assert f'exec "${{HYP_FACE_PYTHON:-python3}}" -m hyp_face.bin.{module} "$@"' in text
    assert len(text.splitlines()) <= 4, "a shim, not an implementation"
    res = tool(name, "--help")
    assert res.returncode == 0 and res.stdout.lower().startswith(f"usage: {name} "), res.stdout + res.stderr


def test_no_sys_path_edits():
    """Tools import the installed (or path.sh's) hyp_face; nothing edits sys.path."""
    edit = re.compile(r"sys\.path\.(insert|append|extend)|sys\.path\s*(\+=|=[^=])")
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.suffix in (".py", ".sh", ".pl")
                 and ".git" not in p.parts and p.is_file() and edit.search(p.read_text(errors="replace"))]
    assert offenders == []


@pytest.mark.parametrize("script", ["run_001_prepare_data.sh", "steps/make_data_from_folder.sh"])
def test_data_prep_scripts_help_begins_with_a_usage_line(script):
    res = subprocess.run([str(ROOT / script), "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("Usage: "), res.stdout + res.stderr
    if script.startswith("run_"):
        assert [ln.split(":")[0].strip() for ln in res.stdout.splitlines() if ln.strip().startswith("stage ")] == [
            "stage 1", "stage 2"], "one sentence per stage"
