# Modern insightface models (buffalo_l pack, ONNX, run by our torch interpreter):
#   detector:   SCRFD-10GF with 5 keypoints, long side capped at 800 (trained at 640); thresholds start at 0.5
#               because SCRFD scores rarely exceed 0.9 (the RetinaFace start)
#   recognizer: ArcFace ResNet-50 trained on WebFace600K, 512-d, on the SCRFD landmarks
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_scrfd_w600k.sh
# (buffalo_l.zip, 288 MB, GitHub release of insightface; non-commercial research licence, see docs/models.md).

face_detector=scrfd_10g
face_det_opts="--det-resize-policy=v0.2 --det-thr-start=0.5"

face_recognizer=arcface_w600k_r50
face_reco_opts="--align-mode=detector"

face_embed_name=scrfd10g-w600k
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1); not re-tuned for this recognizer.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear
