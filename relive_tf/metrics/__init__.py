"""Metrics of generated and predicted video: Frechet/kernel distances, features, PSNR and SSIM."""
