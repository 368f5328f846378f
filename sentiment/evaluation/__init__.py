"""Evaluation: metrics, behaviour suites and baselines, shared by training and bench."""
