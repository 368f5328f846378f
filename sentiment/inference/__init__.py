"""Inference: bundles, word-vector kinds, inputs, forward passes, the predictor and answers."""
