"""Kaldi-compatible job launchers (``utils/run.pl``, ``slurm.pl``, ``queue.pl`` are shims over ``hyp_face.bin``).

``launcher`` holds the shared engine and local execution; ``slurm`` and ``sge`` describe the two grids.
"""
