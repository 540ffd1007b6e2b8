/* monitor.h — drift statistics between a reference sample and a current one, as
 * SciPy and Evidently compute them (the first part of `mlplane drift`).
 * Pure functions over caller-owned arrays: no I/O, no global state, reentrant;
 * any thread may call them. Each sorted input is ascending, without NaNs. */
#ifndef MLPLANE_MONITOR_H
#define MLPLANE_MONITOR_H

#include <stddef.h>

/* Two-sample Kolmogorov–Smirnov test, two-sided, as scipy.stats.ks_2samp(method="auto"):
 * *d the statistic, *p its p-value, exact (Hodges' lattice-path counts) when the larger
 * sample has at most 10,000 values. Larger samples: returns -1 (asymptotic p-value not
 * yet implemented), *d still set. Returns 0. a (na >= 1) and b (nb >= 1) sorted. */
int monitor_ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *d, double *p);

/* First Wasserstein distance as scipy.stats.wasserstein_distance of two sorted samples. */
double monitor_wasserstein(const double *a, size_t na, const double *b, size_t nb);

/* PSI of two histograms (counts over the same bins), with Evidently's fill of empty
 * bins: a share of 0 becomes 0.0001, or the smallest non-zero share / 1e6 when that is
 * at most 0.0001. Returns the PSI (natural log). */
double monitor_psi(const double *ref_counts, const double *cur_counts, size_t nbins);

#endif
