# Job launchers used by the run_*.sh scripts ("$train_cmd JOB=1:N log.JOB.log command ...").
# utils/run.pl runs on this machine, at most --max-jobs-run jobs at once (default: the number of CPUs,
# or with --gpu N>0 the number of GPUs, as in Kaldi).
# train_cmd: CPU jobs; cuda_eval_cmd: GPU inference jobs (face and speaker extraction, identification, recognition:
# run_002, run_003, run_060, run_070); cuda_cmd: GPU back-end scoring (--device cuda), which holds whole score
# matrices, hence its larger memory below.
export train_cmd="run.pl"
export cuda_cmd="run.pl --gpu 1"
export cuda_eval_cmd="run.pl --gpu 1"

# SLURM (one sbatch --array job per stage; option map in conf/slurm.conf):
# export train_cmd="slurm.pl --mem 4G"
# export cuda_cmd="slurm.pl --gpu 1 --mem 20G"
# export cuda_eval_cmd="slurm.pl --gpu 1 --mem 8G"

# Sun Grid Engine (one qsub -t job per stage; option map in conf/queue.conf; -l/-q go to qsub):
# export train_cmd="queue.pl --mem 4G"
# export cuda_cmd="queue.pl --gpu 1 --mem 20G -q gpu.q"
# export cuda_eval_cmd="queue.pl --gpu 1 --mem 8G"
