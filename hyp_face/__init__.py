"""hyp_face: a Kaldi-style recipe toolkit for face recognition in videos.

Data flows one way: video -> frames -> faces -> embeddings -> scores -> results.
"""

__version__ = "0.1.0"
