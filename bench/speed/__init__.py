"""Speed and memory benchmarks: forward passes, training, serving under load, batch scoring."""
