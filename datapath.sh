# Corpus roots of run_001_prepare_data.sh (sourced; never depends on the host name).
#
# Set them in the environment:
#   export SRE19_DEV_ROOT=/corpora/LDC2019E56        # SRE19 AV dev  (docs/, data/enrollment/, data/test/)
#   export SRE19_EVAL_ROOT=/corpora/LDC2019E57       # SRE19 AV eval
#   export JANUS_ROOT=/corpora/LDC2019E55/Janus_Multimedia_Dataset   # JANUS Multimedia (docs/, videos/)
# or in a file of your own, datapath.local.sh next to this one (or the file named by $HYP_FACE_DATAPATH), with
# lines like  SRE19_DEV_ROOT=/corpora/LDC2019E56 . A variable set in the environment wins over the file.
# A stage checks the roots it needs with `require_root VAR`, which names the variable when it is unset or missing.

__dp_vars="SRE19_DEV_ROOT SRE19_EVAL_ROOT JANUS_ROOT"
for __dp_v in $__dp_vars; do printf -v "__dp_env_$__dp_v" '%s' "${!__dp_v-}"; done
__dp_file=${HYP_FACE_DATAPATH:-$(dirname "${BASH_SOURCE[0]}")/datapath.local.sh}
if [ -f "$__dp_file" ]; then
  # shellcheck disable=SC1090
  . "$__dp_file"
elif [ -n "${HYP_FACE_DATAPATH:-}" ]; then
  echo "datapath.sh: HYP_FACE_DATAPATH=$HYP_FACE_DATAPATH is not a file" >&2; return 1 2>/dev/null || exit 1
fi
for __dp_v in $__dp_vars; do
  __dp_e=__dp_env_$__dp_v
  [ -n "${!__dp_e}" ] && printf -v "$__dp_v" '%s' "${!__dp_e}"
  export "${__dp_v?}"="${!__dp_v-}"
  unset "$__dp_e"
done
unset __dp_v __dp_e __dp_file __dp_vars

# require_root VAR [FILE...]: fails with a message naming VAR when it is unset, not an existing directory, or without
# one of the FILEs (paths inside the corpus that show it is the expected one).
require_root() {
  local var=$1 value=${!1-} f
  if [ -z "$value" ]; then
    echo "datapath.sh: $var is not set; export $var=/path/to/corpus or set it in datapath.local.sh" >&2
    return 1
  fi
  if [ ! -d "$value" ]; then
    echo "datapath.sh: $var=$value is not an existing directory" >&2
    return 1
  fi
  shift
  for f in "$@"; do
    if [ ! -f "$value/$f" ]; then
      echo "datapath.sh: $var=$value does not look like that corpus: it has no $f" >&2
      return 1
    fi
  done
}
