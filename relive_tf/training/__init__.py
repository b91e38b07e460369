"""Training: the Trainer protocol and Family record, a trainer per family, the loop, checkpoints."""
