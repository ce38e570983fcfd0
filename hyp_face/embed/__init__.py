"""Face recognizers behind one Embedder interface, registered by name."""
