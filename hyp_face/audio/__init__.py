"""The speaker side: audio decoding to 16 kHz mono, voice activity detection, speaker embedders.

``decode`` streams any input PyAV opens as float32 16 kHz mono blocks; ``vad`` finds speech with Silero VAD;
``mel`` computes the mel power spectrogram of the GE2E encoder; ``ge2e`` is that encoder (the weights of the
``resemblyzer`` wheel); ``extract`` turns a file into one speaker embedding, with a status when it has none.
"""
