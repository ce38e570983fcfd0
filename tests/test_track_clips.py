"""Face tracks on the real clips of ../shared (skipped without it): ``extract_face_embed --track-fps 5`` with the
embedded default, read back from the store. One-person clips give one person whose main track covers the clip; the
1080p crowd clip runs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, shared_path
from hyp_face.frontend import FrontEndConfig
from hyp_face.io.embed_store import EmbedReader
from hyp_face.track.people import cluster_tracks

CLIPS = {  # key: (path under celeb_video_smoke, people on screen or None when not labelled)
    "biden": ("hieubkvn123_face_recognition/videos/biden.mp4", 1),
    "aoc": ("OpenTalker_SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4", 1),
    "crowd": ("timesler_facenet-pytorch/examples/video.mp4", None),
}
CONFIG = ROOT / "global_conf" / "config_embedded.sh"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    base = shared_path("data", "celeb_video_smoke")
    out = tmp_path_factory.mktemp("tracks")
    (out / "vid.scp").write_text("".join(f"{k} {base / p}\n" for k, (p, _) in sorted(CLIPS.items())))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYP_FACE_THREADS": "1"}
    cmd = [sys.executable, "-m", "hyp_face.bin.extract_face_embed", "--config-file", str(CONFIG), "--track-fps", "5",
           "--vid-scp", str(out / "vid.scp"), "--output-prefix", str(out / "embed.1")]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    with EmbedReader(out / "embed.1.scp") as reader:
        yield reader


@pytest.mark.slow
@pytest.mark.parametrize("key", ["biden", "aoc"])
def test_one_person_clip_is_one_person_covered_by_its_main_track(store, key):
    tracks = store.read_tracks(key)
    meta = store.read_meta(key)
    assert store.status(key) == "ok" and tracks
    people = cluster_tracks(tracks, FrontEndConfig.from_file(CONFIG).people_threshold())
    assert set(people) == {0}
    main = max(tracks, key=len)
    assert len(main) >= 0.8 * len(np.unique(meta.frame))  # followed through (nearly) every sampled frame
    assert main.end - main.start >= 5.0  # the clips last 7-8 s
    assert np.all(np.diff(main.time) > 0) and np.isfinite(main.quality) and 0 < main.quality <= 1


@pytest.mark.slow
def test_crowd_clip_runs_and_its_tracks_match_the_faces(store):
    tracks = store.read_tracks("crowd")
    meta = store.read_meta("crowd")
    assert store.status("crowd") == "ok" and len(tracks) >= 2
    assert np.isfinite(meta.sharpness).all()
    kept = meta.track[meta.track >= 0]
    assert sorted(set(kept.tolist())) == [t.track_id for t in tracks]
    for t in tracks:  # a track has at most one face per frame
        assert len(np.unique(t.frame)) == len(t)
