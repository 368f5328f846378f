"""Reference checks against the upstream implementations (bench-only PyTorch venv)."""
