"""Distances between two feature sets (lower is closer): Frechet (FVD) and kernel distance (KVD)."""

import numpy as np


def _check_features(features, name):
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(
      f"{name}: expected features [num_samples >= 2, dims], got shape "
      f"{list(features.shape)}; evaluate at least 2 clips per set"
    )
  if not np.all(np.isfinite(features)):
    raise ValueError(
      f"{name}: the features hold NaN or infinite values; the clips they came from are "
      f"not finite (check the generator's output)"
    )
  return features


def _check_pair(features_a, features_b):
  features_a = _check_features(features_a, "first feature set")
  features_b = _check_features(features_b, "second feature set")
  if features_a.shape[1] != features_b.shape[1]:
    raise ValueError(
      f"the feature sets have {features_a.shape[1]} and {features_b.shape[1]} dims; "
      f"both must come from the same feature network"
    )
  return features_a, features_b


def feature_statistics(features):
  """Mean and covariance of a feature set, in float64.

  Args:
    features: [num_samples, dims], num_samples >= 2.

  Returns:
    (mean float64 [dims], covariance float64 [dims, dims]), the covariance unbiased (divides by
    num_samples - 1), as in the FID and FVD reference implementations.
  """
  # float64 throughout: the float32 covariance of a few hundred 400-d features is off by enough to
  # move the distance visibly.
  features = _check_features(features, "features")
  return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix):
  """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
  eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
  # Round-off turns the zero eigenvalues of a singular covariance into tiny negatives.
  return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance_from_statistics(mean_a, covariance_a, mean_b, covariance_b):
  """Frechet distance between the Gaussians N(mean_a, covariance_a) and N(mean_b, covariance_b).

  d = |mean_a - mean_b|^2 + tr(covariance_a) + tr(covariance_b)
      - 2 tr((covariance_a covariance_b)^1/2)

  The trace of the matrix square root is taken as the sum of the square roots of the eigenvalues of
  the symmetric positive semi-definite S = sqrt(covariance_a) covariance_b sqrt(covariance_a), which
  has the same eigenvalues as covariance_a covariance_b. Unlike scipy.linalg.sqrtm of the
  non-symmetric product, this needs no eps * I offset and stays finite and real when the covariances
  are singular (fewer samples than dims, or features that never vary).

  Args:
    mean_a, mean_b: [dims].
    covariance_a, covariance_b: [dims, dims], symmetric positive semi-definite.

  Returns:
    The distance, a Python float >= 0 up to round-off.
  """
  mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
  covariance_a = np.asarray(covariance_a, np.float64)
  covariance_b = np.asarray(covariance_b, np.float64)
  sqrt_a = _psd_sqrt(covariance_a)
  product = sqrt_a @ covariance_b @ sqrt_a
  eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
  trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
  difference = mean_a - mean_b
  return float(
    difference @ difference + np.trace(covariance_a) + np.trace(covariance_b) - 2.0 * trace_sqrt
  )


def frechet_distance(features_a, features_b):
  """Frechet distance between two feature sets (FVD when the features are I3D logits).

  Unterthiner et al. 2018, "Towards Accurate Generative Models of Video: A New Metric & Challenges",
  https://arxiv.org/abs/1812.01717; the Frechet distance of Heusel et al. 2017 (FID).

  Args:
    features_a: [num_samples_a, dims], num_samples_a >= 2.
    features_b: [num_samples_b, dims], num_samples_b >= 2.

  Returns:
    The distance between Gaussians fitted to the two sets, a Python float.

  Raises:
    ValueError: too few samples, dims that differ, or features that are not finite.
  """
  features_a, features_b = _check_pair(features_a, features_b)
  return frechet_distance_from_statistics(
    *feature_statistics(features_a), *feature_statistics(features_b)
  )


def polynomial_kernel(features_a, features_b):
  """k(x, y) = (x . y / dims + 1)^3, the kernel of KID and KVD.

  Args:
    features_a: [n, dims].
    features_b: [m, dims].

  Returns:
    float64 [n, m].
  """
  features_a = np.asarray(features_a, np.float64)
  features_b = np.asarray(features_b, np.float64)
  return (features_a @ features_b.T / features_a.shape[1] + 1.0) ** 3


def kernel_distance(features_a, features_b):
  """Kernel distance (KVD): the unbiased squared MMD with the cubic polynomial kernel.

  Binkowski et al. 2018, "Demystifying MMD GANs", https://arxiv.org/abs/1801.01401 (KID); on I3D
  features it is the KVD of Unterthiner et al. 2018. Unlike the Frechet distance it assumes no
  Gaussian and its estimate is unbiased, so it can be slightly negative when both sets come from the
  same distribution. Computed on the full sets (no subsets), so memory grows as num_samples^2.

  Args:
    features_a: [n, dims], n >= 2.
    features_b: [m, dims], m >= 2.

  Returns:
    The unbiased MMD^2 estimate, a Python float.

  Raises:
    ValueError: too few samples, dims that differ, or features that are not finite.
  """
  features_a, features_b = _check_pair(features_a, features_b)
  n, m = features_a.shape[0], features_b.shape[0]
  kernel_aa = polynomial_kernel(features_a, features_a)
  kernel_bb = polynomial_kernel(features_b, features_b)
  kernel_ab = polynomial_kernel(features_a, features_b)
  within_a = (kernel_aa.sum() - np.trace(kernel_aa)) / (n * (n - 1))
  within_b = (kernel_bb.sum() - np.trace(kernel_bb)) / (m * (m - 1))
  return float(within_a + within_b - 2.0 * kernel_ab.mean())
