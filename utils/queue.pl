#!/usr/bin/env bash
# queue.pl: Kaldi's launcher interface, implemented in hyp_face.bin.queue_pl (usage: queue.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.queue_pl "$@"
