"""Networks, one module per family: video WGAN, conditional WGAN, next-frame predictor."""
