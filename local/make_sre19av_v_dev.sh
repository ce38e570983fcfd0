#!/usr/bin/env bash
# Prepares data/sre19_av_v_dev_{enroll,test} from the SRE19 AV dev corpus (LDC2019E56); options: local/make_sre19av_v.sh.
exec "$(dirname "$0")/make_sre19av_v.sh" --subset dev "$@"
