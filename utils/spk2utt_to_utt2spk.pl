#!/usr/bin/env bash
# spk2utt_to_utt2spk.pl: Kaldi's interface, implemented in hyp_face.bin.spk2utt_to_utt2spk (usage: spk2utt_to_utt2spk.pl --help).
exec "${HYP_FACE_PYTHON:-python3}" -m hyp_face.bin.spk2utt_to_utt2spk "$@"
