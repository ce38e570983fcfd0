# v0.1 front end (RetinaFace-R50, short side 1024; MTCNN refine alignment) with the insightface MXNet
# recognizer MobileFaceNet ArcFace MS1M-refine-v1 (model-y1-test2), 128-d: stage 5 of the original run_000
# downloaded it, but no config used it (the README promised global_conf/config_r50.sh).
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_mobilefacenet.sh

face_detector=retinaface_r50_mxnet
face_det_opts="--det-resize-policy=v0.1"

face_recognizer=arcface_mobilefacenet_mxnet
face_reco_opts="--align-mode=mtcnn"

face_embed_name=mobilefacenet-v4
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1); not re-tuned for this recognizer.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear
