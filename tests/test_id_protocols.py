"""Identification protocols: LFW builders, video search, validation of bad input, item score matrices."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hyp_face.backend.versions import BackendParams
from hyp_face.corpus.lfw_mock import list_identities
from hyp_face.identify.protocols import (OPEN_SALT, Protocol, ProtocolError, RoleSet, first_half, lfw_protocols,
                                         read_protocol, video_search, write_protocol)
from hyp_face.identify.scoring import MATRICES, Items, ScoreError, check_finite, protocol_matrices, role_items
from hyp_face.io.embed_store import EmbedWriter, FaceMeta
from hyp_face.io.table import TableError

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared/data/lfw_view2_deepfunneled150/warm-ice0x00_face-recognition-training/lfw"
COUNTS = {"Ann_Lee": 6, "Bo_Chen": 5, "Cy_Dunn": 3, "Di_Egan": 2, "Ed_Fox": 2, "Flo_Gray": 1, "Gus_Hale": 1,
          "Hal_Ives": 1}
DIM = 6


@pytest.fixture
def lfw(tmp_path) -> Path:
    d = tmp_path / "lfw"
    d.mkdir()
    for name, n in COUNTS.items():
        for i in range(1, n + 1):
            (d / f"{name}_{i:04d}.jpg").write_bytes(b"")
    (d / "README.txt").write_text("not a photo\n")
    return d


def build(lfw: Path, out: Path) -> dict:
    protocols = lfw_protocols(list_identities(lfw), "lfw_id_all")
    for name, p in protocols.items():
        write_protocol(out / name, p)
    return {name: read_protocol(out / name) for name in protocols}


def test_lfw_protocols_follow_the_rules(lfw, tmp_path):
    p = build(lfw, tmp_path / "data")
    closed = p["closed"]
    assert sorted(closed.sets["gallery"].vid) == [f"{n}_0001" for n in COUNTS if COUNTS[n] >= 2]
    assert len(closed.sets["probe"].vid) == sum(n - 1 for n in COUNTS.values() if n >= 2)
    enrolled = {n for n in COUNTS if COUNTS[n] >= 2 and first_half(n, OPEN_SALT)}
    assert set(p["open"].sets["gallery"].utt2spk.values()) == enrolled
    unknown = [u for u, s in p["open"].sets["probe"].utt2spk.items() if s not in enrolled]
    assert len(unknown) == sum(COUNTS[n] for n in COUNTS if n not in enrolled)
    assert sorted(set(p["idrate"].sets["distractor"].utt2spk.values())) == ["Flo_Gray", "Gus_Hale", "Hal_Ives"]
    assert len(p["idrate"].sets["query"].vid) == 6 + 5 + 3 + 2 + 2
    search = p["search"]
    assert search.relevant == {"Ann_Lee": [f"Ann_Lee_{i:04d}" for i in range(2, 7)],
                               "Bo_Chen": [f"Bo_Chen_{i:04d}" for i in range(2, 6)]}
    assert len(search.sets["gallery"].vid) == sum(COUNTS.values()) - 2
    assert all((tmp_path / "data" / n / "README").read_text().count("\n") == 1 for n in p)


def test_lfw_protocols_are_deterministic(lfw, tmp_path):
    build(lfw, tmp_path / "a")
    build(lfw, tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*")):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f


def test_split_by_hash_is_about_half():
    names = [f"person_{i}" for i in range(2000)]
    assert 900 < sum(first_half(n, OPEN_SALT) for n in names) < 1100
    assert [first_half(n, "dev:") for n in names[:50]] != [first_half(n, OPEN_SALT) for n in names[:50]]


# ------------------------------------------------------------------------------------------------ bad input


@pytest.fixture
def closed_dir(lfw, tmp_path) -> Path:
    build(lfw, tmp_path / "data")
    return tmp_path / "data" / "closed"


def drop_line(path: Path, startswith: str) -> None:
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith(startswith)))


def test_probe_missing_from_key(closed_dir):
    drop_line(closed_dir / "probe" / "utt2spk", "Bo_Chen_0003 ")
    with pytest.raises(TableError, match=r"probe/vid.scp:\d+: probe item 'Bo_Chen_0003' is missing from the key"):
        read_protocol(closed_dir)


def test_gallery_identity_without_image(closed_dir):
    spk2utt = closed_dir / "gallery" / "spk2utt"
    spk2utt.write_text(spk2utt.read_text().replace("Cy_Dunn Cy_Dunn_0001", "Cy_Dunn"))
    with pytest.raises(TableError, match=r"gallery/spk2utt:3: identity 'Cy_Dunn' has no item"):
        read_protocol(closed_dir)


def test_gallery_identity_whose_image_is_not_listed(closed_dir):
    drop_line(closed_dir / "gallery" / "vid.scp", "Cy_Dunn_0001 ")
    with pytest.raises(TableError, match=r"gallery/utt2spk:3: 'Cy_Dunn_0001' is not an item"):
        read_protocol(closed_dir)


def test_empty_gallery(closed_dir):
    (closed_dir / "gallery" / "vid.scp").write_text("")
    with pytest.raises(ProtocolError, match=r"gallery/vid.scp: empty"):
        read_protocol(closed_dir)


def test_duplicate_item_in_a_set(closed_dir):
    vid = closed_dir / "probe" / "vid.scp"
    vid.write_text(vid.read_text() + vid.read_text().splitlines(True)[0])
    with pytest.raises(TableError, match=r"probe/vid.scp:\d+: duplicate item 'Ann_Lee_0002' \(line 1\)"):
        read_protocol(closed_dir)


def add_probe(closed_dir: Path, utt: str, spk: str) -> None:
    """Append a probe to vid.scp and utt2spk (and drop spk2utt, which would no longer match)."""
    for name, value in (("vid.scp", f"/x/{utt}.jpg"), ("utt2spk", spk)):
        with open(closed_dir / "probe" / name, "a") as f:
            f.write(f"{utt} {value}\n")
    (closed_dir / "probe" / "spk2utt").unlink()


def test_duplicate_item_across_roles(closed_dir):
    add_probe(closed_dir, "Ann_Lee_0001", "Ann_Lee")
    with pytest.raises(ProtocolError, match=r"probe/vid.scp:\d+: duplicate item 'Ann_Lee_0001', also at "
                                            r".*gallery/vid.scp:1"):
        read_protocol(closed_dir)


def test_search_query_missing_from_the_key(lfw, tmp_path):
    build(lfw, tmp_path / "data")
    drop_line(tmp_path / "data" / "search" / "relevant", "Bo_Chen")
    with pytest.raises(ProtocolError, match=r"relevant: queries missing from the key, e.g. \['Bo_Chen'\]"):
        read_protocol(tmp_path / "data" / "search")


def test_closed_probe_of_an_unenrolled_identity(closed_dir):
    add_probe(closed_dir, "Zed_0001", "Zed")
    with pytest.raises(ProtocolError, match=r"probe/vid.scp:\d+: probe 'Zed_0001' of identity 'Zed', which has no "
                                            r"gallery item"):
        read_protocol(closed_dir)


# ------------------------------------------------------------------------------------------------ video search


def make_sre_dirs(enroll: Path, test: Path, models: dict[str, str], shows: dict[str, str]) -> None:
    """An SRE19-style enrollment dir (``models``: video -> model, one box each) and test dir (``shows``: test video
    -> the model it shows, or another name) with the full model x test trial list."""
    for d, utt2spk in ((enroll, models), (test, {t: t for t in shows})):
        d.mkdir(parents=True)
        (d / "vid.scp").write_text("".join(f"{u} /v/{u}.mp4\n" for u in utt2spk))
        (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utt2spk.items()))
    (enroll / "face_boundingbox").write_text("".join(f"{u} 1.0 0 0 9 9\n" for u in models))
    (test / "trials").write_text("".join(f"{m} {t} {'target' if p == m else 'nontarget'}\n"
                                         for m in sorted(set(models.values())) for t, p in shows.items()))


def small_sre_dirs(root: Path) -> tuple[Path, Path]:
    enroll, test = root / "set_enroll", root / "set_test"
    make_sre_dirs(enroll, test, {"e1": "m1", "e2": "m1", "e3": "m2"}, {"t1": "m1", "t2": "x", "t3": "m1"})
    return enroll, test


def test_video_search_protocol(tmp_path):
    enroll, test = small_sre_dirs(tmp_path)
    write_protocol(tmp_path / "vs", video_search(enroll, test))
    p = read_protocol(tmp_path / "vs")
    assert p.kind == "search" and p.relevant == {"m1": ["t1", "t3"], "m2": []}
    assert p.sets["query"].source == "set_enroll" and p.sets["query"].boxes is not None
    assert (tmp_path / "vs" / "relevant").read_text() == "m1 t1 t3\nm2\n"


def test_video_search_trial_of_an_unknown_test(tmp_path):
    enroll, test = small_sre_dirs(tmp_path)
    with open(test / "trials", "a") as f:
        f.write("m2 t9 target\n")
    with pytest.raises(TableError, match=r"trials:7: test 't9' is not in"):
        video_search(enroll, test)


# ------------------------------------------------------------------------------------------------ score matrices


def write_store(path: Path, faces: dict[str, np.ndarray], metas: dict[str, FaceMeta] | None = None) -> None:
    with EmbedWriter(path / "embed") as w:
        for key, x in faces.items():
            w.write(key, x, (metas or {}).get(key))


def photo_embeddings(protocol_items: dict[str, str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    centres = {spk: rng.normal(size=DIM) for spk in sorted(set(protocol_items.values()))}
    return {u: (centres[s] + 0.3 * rng.normal(size=DIM))[None].astype(np.float32) for u, s in protocol_items.items()}


def test_matrices_are_cosines_of_the_photo_faces(lfw, tmp_path):
    p = build(lfw, tmp_path / "data")
    everyone = {**p["idrate"].sets["query"].utt2spk, **p["idrate"].sets["distractor"].utt2spk}
    faces = photo_embeddings(everyone, np.random.default_rng(0))
    write_store(tmp_path / "emb" / "facedet" / "lfw_id_all", faces)
    for kind, protocol in p.items():
        items, matrices = protocol_matrices(protocol, BackendParams("v4", thr_ahc=0.5), tmp_path / "emb")
        assert set(matrices) == set(MATRICES[protocol.kind])
        for (r, c), m in matrices.items():
            unit = {u: f[0] / np.linalg.norm(f[0]) for u, f in faces.items()}
            expected = np.array([[unit[a[0]] @ unit[b[0]] for b in items[c].members] for a in items[r].members])
            np.testing.assert_allclose(m, expected, atol=1e-6, err_msg=f"{kind} {r} x {c}")


def test_photo_item_is_its_central_face(tmp_path):
    photo = tmp_path / "A_0001.jpg"
    Image.new("RGB", (100, 80)).save(photo)
    role = RoleSet({"A_0001": str(photo)}, {"A_0001": "A"}, "src")
    faces = np.eye(3, DIM, dtype=np.float32)
    boxes = np.array([[0, 0, 20, 20], [40, 30, 60, 50], [80, 60, 100, 80]], np.float32)
    write_store(tmp_path / "facedet" / "src", {"A_0001": faces},
                {"A_0001": FaceMeta(np.zeros(3), np.zeros(3), boxes, np.ones(3), np.zeros((3, 5, 2)))})
    items = role_items(Protocol("idrate", "", {"query": role, "distractor": role}), "query", tmp_path)
    np.testing.assert_array_equal(items.faces[0][0], faces[1:2])


def test_nan_score_names_the_item_line(closed_dir):
    p = read_protocol(closed_dir)
    items = {}
    for role in ("probe", "gallery"):
        ids = sorted(p.sets[role].vid)
        items[role] = Items(ids, [[u] for u in ids], ids, [], p.sets[role])
    scores = np.zeros((len(items["probe"].ids), len(items["gallery"].ids)))
    scores[2, 1] = np.nan
    with pytest.raises(ScoreError, match=r"probe/vid.scp:3: score of 'Ann_Lee_0004' x 'Bo_Chen_0001' "
                                         r"\(.*gallery/vid.scp:2\) is nan"):
        check_finite(scores, items["probe"], items["gallery"])


def test_nan_embedding_names_the_store_and_key(lfw, tmp_path):
    p = build(lfw, tmp_path / "data")
    faces = photo_embeddings({**p["idrate"].sets["query"].utt2spk, **p["idrate"].sets["distractor"].utt2spk},
                             np.random.default_rng(1))
    faces["Cy_Dunn_0002"][0, 0] = np.nan
    write_store(tmp_path / "emb" / "facedet" / "lfw_id_all", faces)
    with pytest.raises(KeyError, match=r"embed.scp: key 'Cy_Dunn_0002' holds NaN"):
        protocol_matrices(p["closed"], BackendParams("v1"), tmp_path / "emb")


@pytest.mark.skipif(not LFW.is_dir(), reason="needs ../shared (LFW View 2 images)")
def test_shared_lfw_search_matches_the_reference_counts(tmp_path):
    build(LFW, tmp_path / "data")
    search = read_protocol(tmp_path / "data" / "search")
    assert (len(search.relevant), len(search.sets["gallery"].vid)) == (260, 7441)
    assert len(read_protocol(tmp_path / "data" / "closed").sets["gallery"].vid) == 1559
    assert os.path.getsize(tmp_path / "data" / "search" / "relevant") > 0


# ------------------------------------------------------------------------------------------------ evaluation


def test_rerank_rows_choose_the_best_dev_setting_and_keep_the_paper_one():
    from hyp_face.identify.evaluate import Reranker, dev_rows, rerank_rows, retrieval
    from hyp_face.rerank import k_reciprocal

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, DIM))
    q_lab, g_lab = np.arange(12), np.repeat(np.arange(12), 4)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    q = unit(centres[q_lab] + 0.6 * rng.normal(size=(12, DIM)))
    g = unit(centres[g_lab] + 0.6 * rng.normal(size=(48, DIM)))
    relevant = q_lab[:, None] == g_lab[None, :]
    dev = dev_rows([f"id{i}" for i in q_lab])
    rr = Reranker("k_reciprocal", "k_reciprocal", {"k1": 20, "k2": 6, "lam": 0.3},
                  {"k1": (3, 6), "k2": (1, 2), "lam": (0.3,)})
    rows = rerank_rows(q @ g.T, q @ q.T, g @ g.T, relevant, dev, (rr,))
    assert [(r["method"], r["setting"]) for r in rows] == [("none", ""), ("k_reciprocal", "paper"),
                                                          ("k_reciprocal", "dev-chosen")]
    assert rows[0]["map"] == retrieval(q @ g.T, relevant, dev)["map"]
    tried = [retrieval(-k_reciprocal(q @ g.T, q @ q.T, g @ g.T, **p), relevant, dev) for p in rr.settings()]
    keeping = [r for r in tried if r["rank1_dev"] >= rows[0]["rank1_dev"]] or tried
    best = max(r["map_dev"] for r in keeping)
    assert rows[2]["map_dev"] == best
    assert rows[2]["params"] == rr.settings()[[r["map_dev"] for r in tried].index(best)]
    assert rows[1]["params"] == {"k1": 20, "k2": 6, "lam": 0.3}


def test_cmc_curve_from_first_hits_matches_rank_k():
    from hyp_face.identify.evaluate import retrieval
    from hyp_face.metrics.identification import retrieval_map_relevance

    rng = np.random.default_rng(5)
    scores = rng.normal(size=(30, 12))
    relevant = rng.random((30, 12)) < 0.15  # some queries have no relevant item: never a hit
    cmc = retrieval(scores, relevant, np.zeros(30, bool))["cmc"]
    ranks = retrieval_map_relevance(scores, relevant, tuple(range(1, 13)))["rank"]
    assert len(cmc) == 12
    np.testing.assert_allclose(cmc, [ranks[k] for k in range(1, 13)])
    assert cmc[-1] == np.mean(relevant.any(axis=1))


def test_choose_on_dev_keeps_the_dev_rank1_first():
    from hyp_face.identify.evaluate import choose_on_dev

    plain = {"map_dev": 0.80, "rank1_dev": 0.90}
    a = {"map_dev": 0.95, "rank1_dev": 0.85}  # best mAP, but it lowers Rank-1
    b = {"map_dev": 0.88, "rank1_dev": 0.90}
    c = {"map_dev": 0.88, "rank1_dev": 0.95}  # ties b on mAP: the first wins
    assert choose_on_dev(plain, [a, b, c]) is b
    assert choose_on_dev(plain, [a, {"map_dev": 0.9, "rank1_dev": 0.8}]) is a  # none keeps it: best mAP overall


def test_table_rows_of_a_search_result():
    from hyp_face.identify.report import markdown, result_rows

    result = {"config": "c", "backend": "be_v1", "protocol": "p", "kind": "search", "figures": {
        "rank": {"1": 0.5, "5": 1.0, "10": 1.0}, "retrieval": [
            {"method": "none", "setting": "", "params": {}, "map": 0.75, "rank": {"1": 0.5, "5": 1.0, "10": 1.0}},
            {"method": "ecn", "setting": "paper", "params": {"t": 3, "q": 8, "k": 25}, "map": 0.8,
             "rank": {"1": 1.0, "5": 1.0, "10": 1.0}}]}}
    lines = markdown(result_rows(result))
    assert lines[0] == "| config | back-end | protocol | R-1 | R-5 | R-10 | mAP | re-ranking |"
    assert lines[2] == "| c | be_v1 | p | 50.0 | 100.0 | 100.0 | 75.0 |  |"
    assert lines[3] == "| c | be_v1 | p | 100.0 | 100.0 | 100.0 | 80.0 | ecn paper (t 3, q 8, k 25) |"


def test_open_set_tables_note_the_rates_below_one_over_the_negatives(tmp_path):
    from hyp_face.identify.report import write_tables

    figures = {"dir": {"0.001": 0.5, "0.01": 0.6, "0.1": 0.7}, "n_known": 10, "n_unknown": 188}
    small = {"config": "c", "backend": "be_v1", "protocol": "small_open", "kind": "open", "figures": figures}
    large = {**small, "protocol": "large_open", "figures": {**figures, "n_unknown": 5165}}
    write_tables(tmp_path, [small, large])
    text = (tmp_path / "results.md").read_text()
    assert "Note: small_open has 188 unknown probes, fewer than 1/FPIR for DIR@0.001: there no false positive" in text
    assert "large_open has" not in text
