"""Scoring: offline batch jobs over large files, on one machine or on Dask, and writers."""
