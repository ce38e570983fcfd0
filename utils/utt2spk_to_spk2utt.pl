#!/usr/bin/env bash
# utt2spk_to_spk2utt.pl: Kaldi's interface, implemented in hyp_face.bin.utt2spk_to_spk2utt (usage: utt2spk_to_spk2utt.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.utt2spk_to_spk2utt "$@"
