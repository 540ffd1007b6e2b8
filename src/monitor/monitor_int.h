/* monitor_int.h — internals shared by src/monitor's files; not part of the public
 * face (monitor.h). Pure functions; any thread. */
#ifndef MLPLANE_MONITOR_INT_H
#define MLPLANE_MONITOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the values of src (n) that are not NaN (finite_only: that are finite) to out,
 * ascending, and returns how many there are; scratch: 2 n words of the caller's (the second n touched only where src is out; reused across calls to spare the page
 * faults of fresh memory). src and out may be the same array. Any thread. */
size_t monitor__sort_values(const double *src, size_t n, double *out, uint64_t *scratch, bool finite_only);

/* Survival function of the two-sided one-sample Kolmogorov–Smirnov statistic D_n,
 * Pr(D_n > d), as scipy.stats.kstwo.sf(d, n) (SciPy's _kolmogn with cdf=False) computes
 * it, choosing the same method for each (n, d): Ruben–Gambino's closed forms near the
 * ends, twice Smirnov's one-sided tail (Birnbaum–Tingey sum), the Durbin matrix (Marsaglia,
 * Tsang and Wang's scaling), Pomeranz's recursion, or Pelz–Good's asymptotic series.
 * n >= 1 holds an integer value; d any double. Returns a value in [0, 1], NaN for a bad n
 * or a NaN d, or NaN when memory runs out (the Durbin and Pomeranz methods allocate
 * O(n d) and O((n d)^2) doubles, freed before they return). */
double monitor__kstwo_sf(double d, double n);

/* Pr(D_n^+ >= x), the one-sided Smirnov tail, as scipy.special.smirnov(n, x): the
 * Birnbaum–Tingey sum for n <= 1,000,000, exp(-(6 n x + 1)^2 / (18 n)) above. */
double monitor__smirnov(long n, double x);

#endif
