# Calibration of the recipe's score dirs, sourced by local/run_eval_be_common.sh and run_050_make_res_tables.sh
# after the config file. A config names its models with calibration= (raw scores) and snorm_calibration= (s-norm
# scores); the command line wins, and both default to the faithful linear model (docs/calibration.md).
# Directory suffixes: the faithful model keeps the original's cal_v1_sre19; another model <m> gives cal_<m>_sre19.
cal_name_of() { if [ "$1" = linear ]; then echo cal_v1_sre19; else echo "cal_${1}_sre19"; fi; }
calibration=${cli_calibration:-${calibration:-linear}}
snorm_calibration=${cli_snorm_calibration:-${snorm_calibration:-linear}}
cal_name=$(cal_name_of "$calibration")
snorm_cal_name=$(cal_name_of "$snorm_calibration")
