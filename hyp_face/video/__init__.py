"""Streaming video and photo decoding by presentation timestamp (PyAV)."""
