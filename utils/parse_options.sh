#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by scripts after they define their variables:
#   --var-name value   sets the variable var_name (must already be defined by the script);
#   --var-name=value   same;
#   --config FILE      sources FILE (lines var_name=value) before the remaining options;
#   --help | -h        prints $help_message (if set) and the script's options with their values, then exits 0.
# Unknown options are an error that names the option and the script; so are a boolean option given anything but
# true or false, and --stage, --stop-stage or --nj given anything but an integer.
# A script that takes no positional arguments calls `no_positional_args "$@"` after sourcing this file.

__po_script=$(basename "${PO_SCRIPT_NAME:-$0}")  # a wrapper that execs a common script may name itself

__po_print_help() {
  [ -n "${help_message:-}" ] && printf '%s\n' "$help_message"
  echo "Options of $__po_script (current values; # what each does, from the script):"
  local __line __v __doc __seen=" "
  # The options are the variables assigned at the start of a line before the script sources this file; the comment
  # that ends such a line describes the option.
  while IFS= read -r __line; do
    [[ "$__line" =~ ^([a-z][a-z0-9_]*)= ]] || continue
    __v=${BASH_REMATCH[1]}
    [ "$__v" != help_message ] && [[ "$__seen" != *" $__v "* ]] || continue
    __seen+="$__v "
    __doc=
    if [[ "$__line" =~ ^[a-z0-9_]+=(\"[^\"]*\"|\'[^\']*\'|[^[:space:]]*)[[:space:]]+#[[:space:]]*(.*)$ ]]; then
      __doc="  # ${BASH_REMATCH[2]}"
    fi
    printf '  --%-24s %s%s\n' "${__v//_/-}" "${!__v-}" "$__doc"
  done < <(sed -n '/parse_options\.sh/q;p' "$0" 2>/dev/null)
}

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) __po_print_help; exit 0 ;;
    --config)
      [ $# -ge 2 ] || { echo "$__po_script: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "$__po_script: config file '$2' not found" >&2; exit 1; }
      # shellcheck disable=SC1090
      . "$2"; shift 2 ;;
    --*=*)
      __po_name=${1%%=*}; __po_name=${__po_name#--}; __po_value=${1#*=}
      set -- "--$__po_name" "$__po_value" "${@:2}" ;;
    --*)
      __po_name=${1#--}; __po_name=${__po_name//-/_}
      if ! declare -p "$__po_name" >/dev/null 2>&1; then
        echo "$__po_script: unknown option $1 (no variable '$__po_name'; see --help)" >&2; exit 1
      fi
      [ $# -ge 2 ] || { echo "$__po_script: option $1 needs a value" >&2; exit 1; }
      # Booleans must be true or false, as in Kaldi.
      __po_old=${!__po_name}
      if [ "$__po_old" = true ] || [ "$__po_old" = false ]; then
        case "$2" in true|false) ;; *) echo "$__po_script: option $1 takes true or false, got '$2'" >&2; exit 1 ;; esac
      fi
      case "$__po_name" in
        stage|stop_stage|nj) [[ "$2" =~ ^-?[0-9]+$ ]] ||
          { echo "$__po_script: option $1 takes an integer, got '$2'" >&2; exit 1; } ;;
      esac
      printf -v "$__po_name" '%s' "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset __po_name __po_value __po_old

no_positional_args() {
  [ $# -eq 0 ] || { echo "$__po_script: unexpected argument '$1' (options are --name value; see --help)" >&2; exit 1; }
}
true
