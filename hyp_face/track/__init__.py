"""Face tracks over the sampled frames of a video (docs: README "Who appears when")."""

from .types import Track

__all__ = ["Track"]
