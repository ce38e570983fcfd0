# Speaker side (run_003_extract_speaker_embed.sh, README "Audio-visual"): the GE2E encoder of the resemblyzer 0.1.4
# wheel (Apache-2.0, 256-D; conf/model_zoo.tsv ge2e_resemblyzer) behind Silero VAD (silero-vad, MIT).
# run_000 --config-file global_conf/speaker/config_ge2e.sh fetches the weights from the wheel (pinned sha256).
speaker_embedder=ge2e_resemblyzer
speaker_vad=silero      # or none: every sample of the (annotated) spans is speech
speaker_block_s=60      # seconds of audio decoded, VAD-ed and embedded at a time (bounded memory)
speaker_precision=fp32  # or bf16 (about 2x faster on CPUs with native bf16) or int8 (onnxruntime; faster still):
                        # both keep cosine >= 0.998 to fp32 (README "Audio-visual", speed)

# The back-end scripts (run_04x_eval_be_vN.sh, run_050) read embeddings and write scores under these names:
# <face_embed_dir>/ref/<enroll set> (enrollment speech, restricted to speech_spans where the data dir has them) and
# <face_embed_dir>/facedet/<set> (all the speech of each file), scores in exp/scores/<face_embed_name>.
face_embed_name=spk-ge2e
face_embed_dir=$(pwd)/exp/speaker_embed/$face_embed_name

# GE2E cosines: targets and non-targets are well apart on a line, so the linear calibration of the original.
calibration=linear
snorm_calibration=linear
