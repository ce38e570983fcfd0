"""Five-point similarity alignment to the ArcFace template, batched warps."""
