"""The speaker side: audio decoding to 16 kHz mono, voice activity detection, speaker embedders.

``decode`` streams any input PyAV opens as float32 16 kHz mono blocks; ``vad`` finds speech with Silero VAD;
``mel`` computes the mel power spectrogram of the GE2E encoder; ``ge2e`` is that encoder (the weights of the
``resemblyzer`` wheel), ``ge2e_int8`` its int8 layers (``speaker_precision=int8``); ``extract`` turns a file into
one speaker embedding, with a status when it has none.
"""
