# Environment of the recipe: sourced by every run_*.sh and steps/*.sh script.
HYP_FACE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HYP_FACE_ROOT
export PATH=$HYP_FACE_ROOT/utils:$HYP_FACE_ROOT/steps:$PATH
export PYTHONPATH=$HYP_FACE_ROOT${PYTHONPATH:+:$PYTHONPATH}
export LC_ALL=C
export HDF5_USE_FILE_LOCKING=FALSE
export MPLBACKEND=Agg
# One compute thread per job by default (jobs run in parallel), and no OpenMP spin-waiting (which made torch
# with 2 threads 12-40x slower whenever the other core was busy); see README "Threads".
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export HYP_FACE_THREADS=${HYP_FACE_THREADS:-$OMP_NUM_THREADS}
# Use a specific interpreter with: export HYP_FACE_PYTHON=/path/to/python
export HYP_FACE_PYTHON=${HYP_FACE_PYTHON:-python3}
