# v0.1 of the original recipe (docs/original_recipe.md §2.1, 5.3-5.5, 12.1): insightface MXNet models, run without MXNet.
#   detector:   RetinaFace-R50 (net3), short side scaled to 1024 (long side <= 1980, small videos up-scaled)
#   alignment:  MXNet MTCNN refine-only (R-/O-/L-Net) inside each RetinaFace box, RetinaFace landmarks as fallback
#   recognizer: LResNet100E-IR ArcFace MS1M-refine-v2 (model-r100-ii), fc1 512-d, L2-normalised
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/default_config.sh
# (about 380 MB from insightface's Dropbox links and GitHub; research / non-commercial licence, see docs/models.md).

face_detector=retinaface_r50_mxnet
face_det_opts="--det-resize-policy=v0.1"

face_recognizer=arcface_r100_mxnet
face_reco_opts="--align-mode=mtcnn"   # MTCNN stages: the zoo model mtcnn_mxnet

face_embed_name=r100-v4
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# Back-end defaults of the published tables (docs/original_recipe.md §12.1): AHC stop 0.8, self-attention a = 2, attention b = 4.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear
