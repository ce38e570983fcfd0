# The FaceNet pipeline of facenet-pytorch 2.6.0, with our own torch modules and its weights:
#   detector:   MTCNN (P-Net/R-Net/O-Net, five landmarks): min face 20 px, thresholds 0.6/0.7 then the O-Net
#               threshold of the back-off below (0.9 down to 0.7, facenet-pytorch's O-Net threshold), factor 0.709
#   recognizer: InceptionResnetV1 trained on VGGFace2 (davidsandberg/facenet 20180402-114759), 512-d, on the
#               detector box resized to 160x160 (margin crop, no warp), (x - 127.5) / 128
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_facenet.sh --accept-new-hash true
# The MTCNN nets come out of the PyPI wheel facenet-pytorch==2.6.0 (MIT; pinned sha256); the VGGFace2 weights are a
# GitHub release file of facenet-pytorch with no published sha256 (see docs/models.md).

face_detector=mtcnn_facenet
face_det_opts="--det-thr-start=0.9 --det-thr-stop=0.7 --det-thr-step=0.1"

face_recognizer=inception_resnet_v1_vggface2
face_reco_opts="--align-mode=detector"

face_embed_name=mtcnn-facenet-vggface2
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# FaceNet's 512-d embedding is trained with a softmax loss on VGGFace2, unit-normalised: cosines spread like those of
# ArcFace models, so the ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1) are used; not tuned.
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model, as for ArcFace-like
# cosines; not tuned for this recognizer.
calibration=linear
snorm_calibration=linear
