"""The audio front end: 16 kHz mono decoding of any rate and layout in bounded blocks, the librosa-free mel
spectrogram, the GE2E encoder against resemblyzer's own, and the statuses of files without audio or speech."""

from __future__ import annotations

import numpy as np
import pytest

from audio_media import GE2E_SHA256, ge2e_models_dir, tone, write_wav
from hyp_face.audio.decode import AudioError, NoAudioStream, audio_blocks, read_audio
from hyp_face.audio.extract import STATUS_NO_SPEECH, SpeakerExtractor, read_speech_spans, span_mask
from hyp_face.audio.ge2e import GE2EEmbedder, GE2ENet, load_ge2e, partial_starts, utterance_windows
from hyp_face.audio.mel import hz_to_mel, mel_spectrogram, mel_to_hz, slaney_mel_filterbank
from hyp_face.audio.vad import NoVAD
from hyp_face.io.table import TableError
from hyp_face.zoo import sha256_of

SPEECH_CLIP = "data/celeb_video_smoke/OpenTalker_SadTalker/examples/ref_video/WDA_KatieHill_000.mp4"


def peak_hz(x: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate,layout", [(8000, "mono"), (22050, "mono"), (44100, "stereo"), (48000, "mono")])
def test_any_rate_and_layout_decodes_to_16k_mono(tmp_path, rate, layout):
    signal = tone(2.0, rate)
    path = tmp_path / f"tone_{rate}.wav"
    write_wav(path, np.stack([signal, signal]) if layout == "stereo" else signal, rate, layout)
    x = read_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 32000) <= 16  # 2 s at 16 kHz, whatever the source rate
    assert abs(peak_hz(x[1000:-1000]) - 440) < 2
    assert 0.25 < np.abs(x[1000:-1000]).max() < 0.45  # stereo: swresample sums the channels at -3 dB


def test_blocks_are_bounded_and_lossless(tmp_path):
    path = tmp_path / "tone.wav"
    write_wav(path, tone(3.3, 44100), 44100)
    blocks = list(audio_blocks(path, block_s=1.0))
    assert [len(b) for b in blocks[:-1]] == [16000] * 3 and 0 < len(blocks[-1]) <= 16000
    assert np.array_equal(np.concatenate(blocks), read_audio(path))


def test_no_audio_stream_and_unreadable_files(tmp_path):
    import av

    video = tmp_path / "silent_video.mp4"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8))):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(NoAudioStream, match="no audio stream .streams: video"):
        read_audio(video)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a media file" * 10)
    with pytest.raises(AudioError, match="cannot open"):
        read_audio(junk)
    with pytest.raises(AudioError, match="file not found"):
        read_audio(tmp_path / "absent.wav")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="zero-byte file"):
        read_audio(empty)


def test_an_unreadable_file_s_status_names_it(tmp_path):
    extractor = SpeakerExtractor(GE2EEmbedder(GE2ENet().eval()), NoVAD())
    result = extractor.process(str(tmp_path / "absent.wav"))
    assert result.status == f"audio error: {tmp_path / 'absent.wav'}: file not found"


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    for rate, n_fft, n_mels in ((16000, 400, 40), (22050, 1024, 80), (8000, 256, 23)):
        ours = slaney_mel_filterbank(rate, n_fft, n_mels)
        ref = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels)
        assert ours.dtype == np.float32 and ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 * np.abs(ref).max())


def test_mel_scale_round_trip_and_slaney_points():
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-9)
    assert hz_to_mel(1000.0) == pytest.approx(15.0) and hz_to_mel(200.0) == pytest.approx(3.0)


def test_mel_spectrogram_matches_librosa():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    for n in (16000, 16077, 900):
        wav = (0.1 * rng.standard_normal(n)).astype(np.float32)
        ref = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
        ours = mel_spectrogram(wav)
        assert ours.shape == ref.shape == (1 + n // 160, 40)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * ref.max())


def test_partial_windows_follow_resemblyzer():
    # 1.3 windows a second: a step of 77 frames; the last window is kept when it covers >= 75 %
    assert partial_starts(16000).tolist() == [0]
    assert partial_starts(5 * 16000).tolist() == [0, 77, 154, 231, 308]  # 385 covers 72 %: dropped
    assert utterance_windows(np.zeros(16000, np.float32)).shape == (1, 160, 40)
    with pytest.raises(ValueError, match="rate"):
        partial_starts(16000, rate=0.1)


def test_partial_windows_equal_the_package_slices():
    VoiceEncoder = pytest.importorskip("resemblyzer").VoiceEncoder
    for n in (100, 16000, 25600, 33333, 160000):
        _, mel_slices = VoiceEncoder.compute_partial_slices(n, 1.3, 0.75)
        assert partial_starts(n).tolist() == [s.start for s in mel_slices]


def test_wrong_rate_and_empty_input_are_errors():
    embedder = GE2EEmbedder(GE2ENet().eval())
    with pytest.raises(ValueError, match="needs 16000 Hz audio, got 44100 Hz"):
        embedder.embed(np.zeros(44100, np.float32), sample_rate=44100)
    with pytest.raises(ValueError, match="empty"):
        embedder.embed(np.zeros(0, np.float32))


def test_checkpoint_without_model_state_is_refused(tmp_path):
    import torch

    path = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a GE2E checkpoint"):
        load_ge2e(path)


def test_silence_and_digital_silence_give_no_speech(tmp_path):
    path = tmp_path / "silence.wav"
    write_wav(path, np.zeros(3 * 22050), 22050)
    result = SpeakerExtractor(GE2EEmbedder(GE2ENet().eval()), NoVAD()).process(str(path))
    assert result.status == STATUS_NO_SPEECH and result.embeds.shape == (0, 256)


def test_silero_finds_no_speech_in_a_tone_or_silence(tmp_path):
    pytest.importorskip("silero_vad")
    from hyp_face.audio.vad import SileroVAD

    vad = SileroVAD()
    assert not vad.speech_mask(np.zeros(32000, np.float32)).any()
    assert not vad.speech_mask(tone(2.0, 16000).astype(np.float32)).any()


def test_speech_spans_file(tmp_path):
    path = tmp_path / "speech_spans"
    path.write_text("a 0.0 1.5\na 2 3\nb 1 2\n")
    assert read_speech_spans(path) == {"a": [(0.0, 1.5), (2.0, 3.0)], "b": [(1.0, 2.0)]}
    assert span_mask(48000, 16000, [(0.0, 1.5), (2.0, 3.0)]).sum() == 8000 + 16000
    path.write_text("a 2.0 1.0\n")
    with pytest.raises(TableError, match="speech_spans:1: bad span"):
        read_speech_spans(path)


def test_ge2e_matches_resemblyzer_on_real_speech(tmp_path, shared):
    resemblyzer = pytest.importorskip("resemblyzer")
    from resemblyzer.audio import normalize_volume

    models = ge2e_models_dir(tmp_path)
    weights = models / "speaker" / "resemblyzer" / "pretrained.pt"
    assert sha256_of(weights) == GE2E_SHA256
    ours = GE2EEmbedder(load_ge2e(weights))
    reference = resemblyzer.VoiceEncoder("cpu", verbose=False)
    wav = read_audio(shared(SPEECH_CLIP))
    for segment in (wav[:16000 * 3], wav[16000 * 2:], wav):  # 1, 5 and 6 partial windows
        expected = reference.embed_utterance(normalize_volume(segment, -30, increase_only=True))
        got = ours.embed(segment)
        assert got.shape == (256,) and abs(np.linalg.norm(got) - 1) < 1e-6
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_windows_of_several_files_share_batches(tmp_path, shared):
    models = ge2e_models_dir(tmp_path)
    embedder = GE2EEmbedder(load_ge2e(models / "speaker" / "resemblyzer" / "pretrained.pt"), batch_size=5)
    wav = read_audio(shared(SPEECH_CLIP))
    alone = [embedder.embed(wav[:16000 * 4]), embedder.embed(wav[16000 * 4:])]
    embedder.pool.add("x", embedder.windows(wav[:16000 * 4]))
    embedder.pool.add("y", embedder.windows(wav[16000 * 4:]))
    np.testing.assert_allclose(embedder.pool.pop("x"), alone[0], atol=1e-6)
    np.testing.assert_allclose(embedder.pool.pop("y"), alone[1], atol=1e-6)
    threaded = GE2EEmbedder(embedder.net, batch_size=2, workers=2)  # batches in worker threads: same numbers
    np.testing.assert_allclose(threaded.embed(wav[:16000 * 4]), alone[0], atol=1e-6)
    assert threaded.pool.pop("x") is None


def test_lanes_agree_with_silero_own_timestamps(shared):
    pytest.importorskip("silero_vad")
    import torch
    from silero_vad import get_speech_timestamps

    from hyp_face.audio.vad import SileroVAD

    vad = SileroVAD()
    wav = read_audio(shared(SPEECH_CLIP))
    wav = np.concatenate([wav, np.zeros(16000, np.float32), wav])  # 17 s: 5 lanes
    expected = np.zeros(len(wav), bool)
    for span in get_speech_timestamps(torch.from_numpy(wav), vad.model):
        expected[span["start"]:span["end"]] = True
    got = vad.speech_mask(wav)
    assert (got == expected).mean() > 0.98 and 0.5 < got.mean() < 0.95


def test_speaker_precision_is_checked(tmp_path):
    from hyp_face.audio.config import SpeakerConfig
    from hyp_face.audio.ge2e import GE2ENet, PartialPool

    conf = tmp_path / "speaker.sh"
    conf.write_text("speaker_embedder=ge2e_resemblyzer\nspeaker_precision=int4\n")
    with pytest.raises(ValueError, match=r"speaker\.sh: speaker precision 'int4': choose one of fp32, bf16, int8"):
        SpeakerConfig.from_file(conf)
    conf.write_text("speaker_embedder=ge2e_resemblyzer\n")
    assert SpeakerConfig.from_file(conf).precision == "fp32"
    with pytest.raises(ValueError, match="choose one of"):
        PartialPool(GE2ENet(), precision="fp16")


def test_int8_gate_order_and_row_quantization():
    from hyp_face.audio.ge2e_int8 import onnx_gate_order, quantize_rows

    gates = np.repeat(np.arange(4.0), 2)[:, None]  # torch's rows: input, forget, cell, output (2 units each)
    np.testing.assert_array_equal(onnx_gate_order(gates)[:, 0], [0, 0, 3, 3, 1, 1, 2, 2])  # ONNX: i, o, f, c
    w = np.random.default_rng(0).normal(size=(6, 9)).astype(np.float32)
    w[2] = 0.0  # an all-zero row keeps a finite scale
    q, scale = quantize_rows(w)
    assert q.dtype == np.int8 and np.abs(q).max() == 127 and np.isfinite(scale).all()
    assert np.all(np.abs(q * scale[:, None] - w) <= scale[:, None] / 2 + 1e-7)


def test_int8_is_close_to_fp32_and_threads_give_the_same_numbers(tmp_path, shared):
    pytest.importorskip("onnxruntime")
    net = load_ge2e(ge2e_models_dir(tmp_path) / "speaker" / "resemblyzer" / "pretrained.pt")
    wav = read_audio(shared(SPEECH_CLIP))
    segments = (wav[:16000 * 3], wav[16000 * 2:], wav)
    exact = [GE2EEmbedder(net).embed(s) for s in segments]
    int8 = GE2EEmbedder(net, batch_size=2, precision="int8")
    fast = [int8.embed(s) for s in segments]
    assert min(float(a @ b) for a, b in zip(exact, fast)) >= 0.998
    assert all(abs(np.linalg.norm(f) - 1) < 1e-6 for f in fast)
    threaded = GE2EEmbedder(net, batch_size=2, workers=2, precision="int8")  # one onnxruntime session, 2 threads
    np.testing.assert_array_equal(threaded.embed(segments[2]), fast[2])


def test_int8_fingerprint_names_onnxruntime(tmp_path):
    """int8 embeddings depend on the onnxruntime that runs them; fp32 fingerprints stay as they were."""
    pytest.importorskip("onnxruntime")
    from importlib import metadata

    from hyp_face.audio.config import SpeakerConfig

    models = str(ge2e_models_dir(tmp_path))
    int8 = SpeakerConfig(vad="none", precision="int8", models_dir=models).fingerprint()
    assert int8["onnxruntime_version"] == metadata.version("onnxruntime")
    assert "onnxruntime_version" not in SpeakerConfig(vad="none", models_dir=models).fingerprint()


def test_int8_without_onnxruntime_says_how_to_get_it(monkeypatch):
    import sys

    from hyp_face.audio.ge2e import GE2ENet, PartialPool

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(ImportError, match=r"speaker_precision=int8 needs onnxruntime: pip install -e '\.\[audio\]'"):
        PartialPool(GE2ENet(), precision="int8")
