"""Training: strategies, per-model train steps, the loop, checkpoints, summaries."""
