"""Evaluation protocols on public data (LFW)."""
