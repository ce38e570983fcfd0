"""The SRE19 AV docs writer of ``hyp_face.io.ldc`` read back by its reader; both corpus builders through it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import hyp_face.corpus
from hyp_face.corpus import CorpusError, demo, lfw_mock
from hyp_face.io.datadir import read_face_boundingbox, read_trials, read_utt2spk, validate_data_dir
from hyp_face.io.ldc import (SRE19_BBOX, SRE19_ENROLL, SRE19_KEY, SRE19_TRIALS, BoxAnnotation, Sre19Docs,
                             cross_trial_key, prepare_sre19av, read_tsv, sre19_doc, write_sre19_docs)

DOCS = Sre19Docs(
    enrollment=[("1001_sre19", "enr1"), ("m-x", "enr2"), ("1003_sre19", "enr1")],
    boxes=[BoxAnnotation("enr1", 15, 1.5, (10.2, 20.0, 110.0, 140.6), "demo"),
           BoxAnnotation("enr2", 2, 0.25, (5.0, 6.0, 50.0, 60.0), "lfw")],
    key=[("1001_sre19", "tst1", "target"), ("m-x", "tst1", "nontarget"), ("1003_sre19", "tst2", "target")],
    segment_key=[("enr1", "Ada_Lovelace", "enrollment"), ("tst1", "Ada_Lovelace", "test")],
)


def test_written_docs_read_back_as_the_same_rows(tmp_path):
    write_sre19_docs(tmp_path, "dev", DOCS)
    enroll = read_tsv(sre19_doc(tmp_path, "dev", "enrollment"), SRE19_ENROLL)
    assert [(r["model"], r["segment"]) for r in enroll] == DOCS.enrollment
    boxes = read_tsv(sre19_doc(tmp_path, "dev", "enrollment_boundingbox"), SRE19_BBOX)
    assert [(r["segment"], r.fields[1], r["time"], r["box"], r.fields[4:]) for r in boxes] == [
        ("enr1", "15", "1.50", "10,20,110,141", ["1", "frontal", "demo"]),
        ("enr2", "2", "0.25", "5,6,50,60", ["1", "frontal", "lfw"]),
    ]
    key = read_tsv(sre19_doc(tmp_path, "dev", "trial_key"), SRE19_KEY)
    assert [(r["model"], r["segment"], r["label"]) for r in key] == DOCS.key
    trials = read_tsv(sre19_doc(tmp_path, "dev", "trials"), SRE19_TRIALS)
    assert [(r["model"], r["segment"], r.fields[2]) for r in trials] == [(m, s, "a") for m, s, _ in DOCS.key]
    segment_key = sre19_doc(tmp_path, "dev", "segment_key").read_text().splitlines()
    assert segment_key[1:] == ["\t".join(r) for r in DOCS.segment_key]


def test_written_docs_prepare_into_matching_data_dirs(tmp_path):
    root = tmp_path / "corpus"
    write_sre19_docs(root, "eval", DOCS)
    for folder, seg in (("enrollment", "enr1"), ("enrollment", "enr2"), ("test", "tst1"), ("test", "tst2")):
        (root / "data" / folder).mkdir(parents=True, exist_ok=True)
        (root / "data" / folder / f"{seg}.mp4").write_bytes(b"x")
    prepare_sre19av(str(root), tmp_path / "data", "eval")
    enroll, test = tmp_path / "data" / "sre19_av_v_eval_enroll", tmp_path / "data" / "sre19_av_v_eval_test"
    assert read_utt2spk(enroll / "utt2spk") == {f"{m}-{s}": m for m, s in DOCS.enrollment}
    boxes = read_face_boundingbox(enroll / "face_boundingbox")
    assert sorted(boxes) == ["1001_sre19-enr1", "1003_sre19-enr1", "m-x-enr2"]
    assert [(b.instant, tuple(b.box)) for b in boxes["1003_sre19-enr1"]] == [(1.5, (10, 20, 110, 141))]
    models, segments, labels = read_trials(test / "trials")
    assert list(zip(models, segments, labels)) == [(m, s, lab == "target") for m, s, lab in DOCS.key]
    validate_data_dir(test, enroll_dir=enroll)


def test_writer_rejects_unknown_labels(tmp_path):
    with pytest.raises(ValueError, match="tst1.*'Y'"):
        write_sre19_docs(tmp_path, "dev", Sre19Docs(key=[("m1", "tst1", "Y")]))
    assert not (tmp_path / "docs").exists()


def test_cross_trial_key_is_every_model_against_every_test():
    key = cross_trial_key([("m1", "ada"), ("m2", "bob")], [("t1", "bob"), ("t2", None), ("t3", "ada")])
    assert key == [("m1", "t1", "nontarget"), ("m1", "t2", "nontarget"), ("m1", "t3", "target"),
                   ("m2", "t1", "target"), ("m2", "t2", "nontarget"), ("m2", "t3", "nontarget")]


def test_demo_corpus_prepares_and_its_boxes_lie_in_the_frame(tmp_path, monkeypatch):
    """The demo builder's docs (videos replaced by placeholders) go through the data preparation."""

    def placeholder(path, frames, **_):
        count = sum(1 for _ in frames)
        assert count == demo.SECONDS * demo.FPS
        Path(path).write_bytes(b"x")

    monkeypatch.setattr(hyp_face.corpus, "write_video", placeholder)
    roots = demo.build_demo_corpus(tmp_path / "corpus", seed=3)
    assert [r.name for r in roots] == ["sre19_av_dev", "sre19_av_eval"]
    prepare_sre19av(str(roots[0]), tmp_path / "data", "dev")
    enroll = tmp_path / "data" / "sre19_av_v_dev_enroll"
    boxes = read_face_boundingbox(enroll / "face_boundingbox")
    assert sorted(boxes) == ["collins-dev-enrdevcollins", "hopper-dev-enrdevhopper"]
    for rows in boxes.values():
        assert [r.instant for r in rows] == [1.0, 2.5]
        for row in rows:
            x1, y1, x2, y2 = row.box
            assert 0 <= x1 < x2 <= demo.W and 0 <= y1 < y2 <= demo.H
    models, segments, labels = read_trials(tmp_path / "data" / "sre19_av_v_dev_test" / "trials")
    assert len(models) == 16 and int(np.sum(labels)) == 6  # 2 models x 8 tests; 3 videos of each person


def fake_lfw(folder: Path, counts: dict[str, int]) -> Path:
    """An LFW-like folder of ``<Name>_<NNNN>.jpg`` noise photos (150x150) plus a file that is not a photo."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        for k in range(1, n + 1):
            Image.fromarray(rng.integers(0, 255, (150, 150, 3), np.uint8)).save(folder / f"{name}_{k:04d}.jpg")
    (folder / "README.txt").write_text("not a photo")
    return folder


def test_lfw_mock_corpus_prepares_with_disjoint_partitions(tmp_path, monkeypatch):
    monkeypatch.setattr(hyp_face.corpus, "write_video", lambda path, frames, **_: Path(path).write_bytes(b"x"))
    counts = {f"Rich_{c}": 3 for c in "ABCD"} | {f"Other_{c}": 1 for c in "EFGHIJ"}
    lfw = fake_lfw(tmp_path / "lfw", counts)
    opts = lfw_mock.MockOptions(num_models=2, min_images=3, tests_per_model=2, num_impostor_tests=2, width=64,
                                height=48, fps=2)
    lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "corpus", opts)
    people = {}
    for part in ("dev", "eval"):
        root = tmp_path / "corpus" / f"sre19_av_{part}"
        prepare_sre19av(str(root), tmp_path / "data", part)
        models, segments, labels = read_trials(tmp_path / "data" / f"sre19_av_v_{part}_test" / "trials")
        assert len(models) == 2 * 6 and int(labels.sum()) == 2 * 2  # 2 models x (4 target + 2 impostor videos)
        rows = sre19_doc(root, part, "segment_key").read_text().splitlines()[1:]
        people[part] = {line.split("\t")[1] for line in rows}
    assert not people["dev"] & people["eval"]
    with pytest.raises(CorpusError, match="another plan"):
        lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "corpus", replace(opts, seed=5))


def test_lfw_mock_corpus_errors_name_the_problem(tmp_path):
    with pytest.raises(CorpusError, match="no <Name>_<NNNN>.jpg"):
        lfw_mock.build_lfw_mock_corpus(tmp_path, tmp_path / "out")
    lfw = fake_lfw(tmp_path / "lfw", {"Solo_A": 4, "Other_B": 1})
    with pytest.raises(CorpusError, match="only 1 identities have >= 4 photos; need 2"):
        lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "out", lfw_mock.MockOptions(num_models=1))
    with pytest.raises(CorpusError, match="must be even"):
        lfw_mock.build_lfw_mock_corpus(lfw, tmp_path / "out", lfw_mock.MockOptions(width=65))
