# v0.2-style front end (docs/original_recipe.md §9): RetinaFace MobileNet-0.25 (Pytorch_Retinaface .pth as shipped with foamliu's
# InsightFace-PyTorch, which v0.2 used), only down-scaling with the long side capped at 800, alignment on the
# RetinaFace landmarks, detection thresholds from 0.9 in both modes. The recognizer is the v0.1 ArcFace r100
# (MXNet): v0.2's foamliu IR-SE-101 (insight-face-v3.pt, pickled full model) is not supported.
# Get the models with: ./run_000_get_pretrained_models.sh --config-file global_conf/config_v02_style.sh

face_detector=retinaface_mnet025_pth
face_det_opts="--det-resize-policy=v0.2 --det-thr-start=0.9"

face_recognizer=arcface_r100_mxnet
face_reco_opts="--align-mode=detector"

face_embed_name=mnet025-r100-v02
face_embed_dir=$(pwd)/exp/face_embed/$face_embed_name

# ArcFace-geometry back-end defaults (docs/original_recipe.md §12.1).
thr_ahc=0.8
self_att_a=2
att_a=4

# Calibration of raw and s-norm scores (docs/calibration.md): the original's linear model fits ArcFace-like cosines.
calibration=linear
snorm_calibration=linear
