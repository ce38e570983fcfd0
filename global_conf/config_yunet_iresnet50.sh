# A light detector with an arcface_torch recognizer:
#   detector:   YuNet-n (libfacedetection.train, Apache-2.0), ONNX run by our interpreter, long side <= 800
#   recognizer: IResNet-50 ArcFace MS1MV3 (insightface arcface_torch model zoo, research only), 512-d
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_yunet_iresnet50.sh
# YuNet is downloaded (pinned sha256); the arcface_torch backbone.pth is published on OneDrive only: run_000 says
# where to place it, then rerun it with --accept-new-hash true after checking the file (see docs/models.md).

face_detector=yunet_n
face_det_opts="--det-resize-policy=v0.2"

face_recognizer=iresnet50_ms1mv3
face_reco_opts="--align-mode=detector"

face_embed_name=yunet-ir50
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1); not re-tuned for this recognizer.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear
