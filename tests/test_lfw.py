"""LFW evaluation: the 10-fold protocol and metrics on hand-checkable scores, config parsing, a small real run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hyp_face.cli import read_shell_config
from hyp_face.eval.lfw import (
    Pairs,
    best_threshold,
    kfold_accuracy,
    main,
    read_pairs,
    tpr_at_fpr,
)
from hyp_face.frontend import FrontEndConfig
from hyp_face.io.table import TableError
from hyp_face.metrics.identification import roc_auc
from conftest import shared_path

torch.set_num_threads(1)


def test_best_threshold_by_hand():
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    same = np.array([0, 0, 1, 0, 1, 1], bool)
    # cuts: below 0.3 -> 5/6 correct (only 0.6 wrong); below 0.7 -> 5/6 (0.3 wrong); first best wins
    assert best_threshold(scores, same) == pytest.approx(0.25)
    assert best_threshold(np.array([0.5, 0.5, 0.5]), np.array([1, 1, 0], bool)) == pytest.approx(0.0)
    # both extreme cuts get 1/2 right; the first (all "same") is taken: midpoint of (0.2 - 1, 0.2)
    assert best_threshold(np.array([0.2, 0.8]), np.array([1, 0], bool)) == pytest.approx(-0.3)


def test_kfold_threshold_comes_from_the_other_folds():
    # fold 1 alone would pick a threshold near 0.5; folds 2+3 say 0.15, which makes fold 1 score 50%
    scores = np.array([0.6, 0.4, 0.2, 0.1, 0.2, 0.1])
    same = np.array([1, 0, 1, 0, 1, 0], bool)
    fold = np.array([1, 1, 2, 2, 3, 3])
    acc, thr = kfold_accuracy(scores, same, fold)
    np.testing.assert_allclose(thr, [0.15, 0.15, 0.15])
    np.testing.assert_allclose(acc, [0.5, 1.0, 1.0])


def test_roc_auc_and_tpr_by_hand():
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    scores = np.array([0.9, 0.8, 0.4, 0.2, 0.7, 0.3, 0.1, 0.05])
    # positive > negative pairs: 0.9,0.8 beat all 4; 0.4 beats 3; 0.2 beats 2 -> 13/16
    assert roc_auc(scores[same], scores[~same]) == pytest.approx(13 / 16)
    assert roc_auc(np.ones(4), np.ones(4)) == pytest.approx(0.5)
    # 4 negatives 0.7, 0.3, 0.1, 0.05. FPR 0.01 allows none above: threshold 0.7 -> TPR 2/4;
    # 0.25 allows one (0.7): positives above 0.3 -> 3/4; 0.5 allows two: positives above 0.1 -> 4/4
    assert tpr_at_fpr(scores, same, (0.01, 0.25, 0.5)) == {"0.01": 0.5, "0.25": 0.75, "0.5": 1.0}


def test_read_shell_config(tmp_path):
    conf = tmp_path / "c.sh"
    conf.write_text(
        "# comment\nface_det_model_name=retinaface_mnet025_embedded\nface_det_model=     # empty\n"
        'face_det_opts="--det-resize-policy=v0.1 --det-thr-start=0.7" # trailing\n'
        "export face_reco_model_name=mobilefacenet_mit\n"
        "face_reco_model=/w/m.pth\nface_reco_opts='--embed-flip=true --align-mode=mtcnn'\nname=x\n"
        "face_embed_dir=$(pwd)/exp/${name}_$name\nif true; then echo; fi\n"
    )
    v = read_shell_config(conf)
    assert v["face_det_model"] == "" and v["face_det_opts"] == "--det-resize-policy=v0.1 --det-thr-start=0.7"
    assert v["face_reco_model_name"] == "mobilefacenet_mit"
    assert v["face_embed_dir"] == "$(pwd)/exp/x_x"
    cfg = FrontEndConfig.from_file(conf)  # legacy keys are still read; every option is kept (none dropped)
    assert (cfg.detector, cfg.det_weights, cfg.embedder, cfg.embed_weights, cfg.embed_flip) == (
        "retinaface_mnet025_embedded", "", "mobilefacenet_mit", "/w/m.pth", True)
    assert (cfg.det_resize_policy, cfg.det_thr_start, cfg.align_mode) == ("v0.1", 0.7, "mtcnn")
    (tmp_path / "bad.sh").write_text("a=1\nb='unclosed\n")
    with pytest.raises(TableError, match="bad.sh:2"):
        read_shell_config(tmp_path / "bad.sh")


def make_lfw(tmp_path):
    names = ["Ann_A", "Bob_B", "Cy_C"]
    for n in names:
        for i in (1, 2):
            (tmp_path / f"{n}_{i:04d}.jpg").write_bytes(b"")
    (tmp_path / "pairs.txt").write_text("2 1\nAnn_A 1 2\nAnn_A 1 Bob_B 2\nCy_C 1 2\nBob_B 1 Cy_C 2\n")
    (tmp_path / "pairs.csv").write_text(
        "fold,same,img1,img2\n1,1,Ann_A_0001.jpg,Ann_A_0002.jpg\n1,0,Ann_A_0001.jpg,Bob_B_0002.jpg\n"
        "2,1,Cy_C_0001.jpg,Cy_C_0002.jpg\n2,0,Bob_B_0001.jpg,Cy_C_0002.jpg\n"
    )
    return tmp_path


def test_read_pairs_txt_and_csv_agree(tmp_path):
    root = make_lfw(tmp_path)
    a, b = read_pairs(root / "pairs.txt", root), read_pairs(root / "pairs.csv", root)
    for p in (a, b):
        np.testing.assert_array_equal(p.fold, [1, 1, 2, 2])
        np.testing.assert_array_equal(p.same, [True, False, True, False])
        assert [p.images[i].name for i in p.idx2] == ["Ann_A_0002.jpg", "Bob_B_0002.jpg", "Cy_C_0002.jpg",
                                                      "Cy_C_0002.jpg"]
    sub = b.subset(1)
    assert isinstance(sub, Pairs) and len(sub.fold) == 4 and len(sub.images) == 6
    (root / "missing.csv").write_text("fold,same,img1,img2\n1,1,Ann_A_0001.jpg,Nobody_0001.jpg\n")
    with pytest.raises(TableError, match="missing.csv:2: image not found"):
        read_pairs(root / "missing.csv", root)


def test_small_real_lfw_run_dlib(tmp_path):
    lfw = shared_path("data", "lfw_view2_deepfunneled150")
    argv = ["--lfw-dir", str(lfw), "--pairs", str(lfw / "pairs_resolved.csv"), "--pairs-per-fold", "5",
            "--embedder", "dlib_resnet128", "--out-dir", str(tmp_path)]
    report = main(argv)
    assert report["num_pairs"] == 100 and report["num_folds"] == 10
    assert report["accuracy_mean"] > 0.9 and report["roc_auc"] > 0.95
    saved = json.loads((tmp_path / "lfw_results.json").read_text())
    assert saved["accuracy_mean"] == report["accuracy_mean"]
    assert "accuracy (10-fold)" in (tmp_path / "lfw_results.md").read_text()
    cached = list((tmp_path / "cache").glob("lfw_embeds_*.npz"))
    assert len(cached) == 1
    assert main(argv)["accuracy_mean"] == report["accuracy_mean"]  # second run reads the cache
