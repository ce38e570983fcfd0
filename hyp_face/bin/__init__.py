"""Thin command-line entry points, run as ``python -m hyp_face.bin.<name>``."""
