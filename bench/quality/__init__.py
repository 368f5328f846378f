"""Quality checks: accuracy, behaviour, documents and explanations, side by side with baselines."""
