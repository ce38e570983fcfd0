#!/usr/bin/env bash
# Prepares data/sre19_av_v_eval_{enroll,test} from the SRE19 AV eval corpus (LDC2019E57); options: local/make_sre19av_v.sh.
exec "$(dirname "$0")/make_sre19av_v.sh" --subset eval "$@"
