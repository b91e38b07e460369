"""Metrics for generated and predicted video: Frechet/kernel distances, video features, PSNR and SSIM."""
