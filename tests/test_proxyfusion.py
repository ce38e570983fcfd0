"""ProxyFusion (hyp_face.fusion.proxyfusion): order invariance, training, checkpoints and bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hyp_face.backend.aggregate import AggregatorError, parse_aggregator, tag  # noqa: E402
from hyp_face.bin import train_set_fusion  # noqa: E402
from hyp_face.fusion.proxyfusion import (  # noqa: E402
    ModelError,
    ProxyFusion,
    ProxyFusionAggregator,
    ProxyFusionConfig,
    load_model,
    save_model,
)
from hyp_face.io.embed_store import EmbedWriter  # noqa: E402

DIM = 8


def write_identities(tmp_path, num_ids: int, per_id: int = 4, nan: bool = False):
    """A store of one-face utterances around ``num_ids`` random identity centres, and its utt2spk."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(num_ids, DIM))
    lines = []
    with EmbedWriter(tmp_path / "train") as w:
        for i in range(num_ids):
            for j in range(per_id):
                x = centres[i] + 0.6 * rng.normal(size=(1, DIM))
                if nan and i == 1 and j == 2:
                    x[0, 3] = np.nan
                w.write(f"id{i:03d}_{j}", x / np.linalg.norm(x))
                lines.append(f"id{i:03d}_{j} id{i:03d}")
    (tmp_path / "utt2spk").write_text("\n".join(sorted(lines)) + "\n")
    return str(tmp_path / "train.scp"), str(tmp_path / "utt2spk")


def test_pooling_is_order_invariant_and_unit_norm():
    torch.manual_seed(0)
    agg = ProxyFusionAggregator(ProxyFusion(ProxyFusionConfig(DIM, num_proxies=6, k=3)).eval())
    x = np.random.default_rng(1).normal(size=(7, DIM))
    for side in ("enroll", "test"):
        out = agg.pool(x, side)
        np.testing.assert_allclose(agg.pool(x[::-1].copy(), side), out, atol=1e-6)
        assert out.shape == (1, 3 * DIM) and np.linalg.norm(out) == pytest.approx(1.0, abs=1e-6)


def test_one_element_set_gives_its_prepared_element_in_every_expert():
    model = ProxyFusion(ProxyFusionConfig(DIM, num_proxies=4, k=2)).eval()
    x = np.random.default_rng(2).normal(size=(1, DIM))
    out = ProxyFusionAggregator(model).pool(x, "test").reshape(2, DIM) * np.sqrt(2)
    expected = model.prepare(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(out, np.repeat(expected, 2, axis=0), atol=1e-6)


def test_training_writes_a_safe_checkpoint_that_checks_embedder_and_dimension(tmp_path):
    scp, utt2spk = write_identities(tmp_path, 40)
    model_path = str(tmp_path / "pf.pt")
    train_set_fusion.main([scp, utt2spk, model_path, "--embedder", "dlib_resnet128", "--max-epochs", "3",
                           "--batch-size", "16", "--num-proxies", "6", "--k", "2", "--hidden", "16",
                           "--dev-percent", "25", "--verbose", "0"])
    payload = torch.load(model_path, weights_only=True)
    assert payload["embedder"] == "dlib_resnet128" and payload["config"]["dim"] == DIM
    assert (tmp_path / "pf.pt.json").exists()
    agg = parse_aggregator(f"proxyfusion:{model_path}", embedder="dlib_resnet128")
    assert agg.pool(np.ones((3, DIM)), side="enroll").shape == (1, 2 * DIM)
    with pytest.raises(ModelError, match="'dlib_resnet128'.*'w600k_r50'"):
        load_model(model_path, embedder="w600k_r50")
    with pytest.raises(AggregatorError, match=r"5-D features.*expects 8-D"):
        agg.pool(np.ones((3, 5)), what="tmpl.h5: s1")


def test_training_on_one_identity_is_a_clear_error(tmp_path):
    scp, utt2spk = write_identities(tmp_path, 1)
    with pytest.raises(SystemExit, match="1 identity.*at least 2"):
        train_set_fusion.main([scp, utt2spk, str(tmp_path / "m.pt"), "--embedder", "x", "--verbose", "0"])


def test_a_dev_split_too_small_says_what_each_side_got(tmp_path):
    scp, utt2spk = write_identities(tmp_path, 5)
    with pytest.raises(SystemExit, match=r"15% dev split .* gives \d+ training and \d+ dev identities of 5; each side "
                                         r"needs 2 or more"):
        train_set_fusion.main([scp, utt2spk, str(tmp_path / "m.pt"), "--embedder", "x", "--dev-percent", "15",
                               "--verbose", "0"])


def test_nan_training_features_are_a_clear_error(tmp_path):
    scp, utt2spk = write_identities(tmp_path, 4, nan=True)
    with pytest.raises(SystemExit, match="id001_2.*NaN"):
        train_set_fusion.main([scp, utt2spk, str(tmp_path / "m.pt"), "--embedder", "x", "--verbose", "0"])


def test_a_foreign_file_is_not_loaded(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(ModelError, match="not a ProxyFusion checkpoint"):
        load_model(bad)
    model = ProxyFusion(ProxyFusionConfig(DIM, num_proxies=4, k=2))
    save_model(tmp_path / "ok.pt", model, "dlib_resnet128")
    assert load_model(tmp_path / "ok.pt")[1]["embedder"] == "dlib_resnet128"


def test_mean_weight_blends_the_cosines_of_the_set_means_and_of_proxyfusion(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path / "pf.pt", ProxyFusion(ProxyFusionConfig(DIM, num_proxies=6, k=3)).eval(), "dlib_resnet128")
    plain, blend = (parse_aggregator(f"proxyfusion:{tmp_path / 'pf.pt'}{w}") for w in ("", ":0.75"))
    assert blend.mean_weight == 0.75 and tag(blend) == "proxyfusion-pf-mean0.75"
    rng = np.random.default_rng(3)
    enroll, test = rng.normal(size=(4, DIM)), rng.normal(size=(6, DIM))
    e, t = blend.pool(enroll, side="enroll"), blend.pool(test, side="test")
    assert e.shape == (1, 4 * DIM) and np.linalg.norm(e) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(blend.pool(test[::-1].copy(), side="test"), t, atol=1e-6)
    cos_mean = (parse_aggregator("mean").pool(enroll) @ parse_aggregator("mean").pool(test).T).item()
    cos_pf = (plain.pool(enroll, side="enroll") @ plain.pool(test, side="test").T).item()
    assert (e @ t.T).item() == pytest.approx(0.75 * cos_mean + 0.25 * cos_pf, abs=1e-6)
    for bad in ("1", "-0.5"):
        with pytest.raises(AggregatorError, match="mean weight must lie in"):
            parse_aggregator(f"proxyfusion:{tmp_path / 'pf.pt'}:{bad}")


def test_hdf5_template_layout_round_trip_and_errors(tmp_path):
    import h5py

    from hyp_face.bin import set_templates

    rng = np.random.default_rng(3)
    src = tmp_path / "pf"
    src.mkdir()
    data = {"S1": {"probe_0": rng.normal(size=(3, DIM)), "gallery/images/0": rng.normal(size=(2, DIM)),
                   "gallery/video/0": rng.normal(size=(5, DIM))},
            "S2": {"probe_0": rng.normal(size=(1, DIM)), "probe_1": rng.normal(size=(4, DIM))}}
    for sid, sets in data.items():
        with h5py.File(src / f"{sid}.h5", "w") as h5:
            for name, x in sets.items():
                h5.create_dataset(f"{sid}/{name}", data=x.astype(np.float32))
    set_templates.main(["import", str(src), str(tmp_path / "store"), "--dim", str(DIM)])
    roles = (tmp_path / "store/roles").read_text()
    assert "S1-gallery-video-0 gallery" in roles and "S2-probe_1 probe" in roles
    set_templates.main(["export", str(tmp_path / "store/embed.scp"), str(tmp_path / "store/utt2spk"),
                        str(tmp_path / "store/roles"), str(tmp_path / "out")])
    with h5py.File(tmp_path / "out/S2.h5") as h5:
        np.testing.assert_allclose(h5["S2/probe_1"][()], data["S2"]["probe_1"], rtol=1e-6)
    with h5py.File(tmp_path / "out/S1.h5") as h5:
        assert sorted(h5["S1/gallery/images"]) == ["0", "1"]
    with pytest.raises(SystemExit, match=r"S1\.h5: S1/gallery/images/0: 8-D features, expected 16-D"):
        set_templates.main(["import", str(src), str(tmp_path / "x"), "--dim", "16"])
    with h5py.File(src / "S2.h5", "a") as h5:
        h5["S2/probe_0"][0, 0] = np.nan
    with pytest.raises(SystemExit, match=r"S2/probe_0: NaN"):
        set_templates.main(["import", str(src), str(tmp_path / "y")])
