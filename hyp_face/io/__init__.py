"""Kaldi-style data directories, scp tables and the HDF5 embedding store."""
