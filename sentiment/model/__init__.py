"""Model: the Gluon blocks, the MiniLM port and the exact decomposition of the logits."""
