/* monitor_int.h — internals shared by src/monitor's files (not a public API). */
#ifndef MLPLANE_MONITOR_INT_H
#define MLPLANE_MONITOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the values of src (n) that are not NaN (finite_only: that are finite) to out,
 * ascending, and returns how many there are; scratch: 2 n words of the caller's (reused across calls to spare the page
 * faults of fresh memory). src and out may be the same array. Any thread. */
size_t monitor__sort_values(const double *src, size_t n, double *out, uint64_t *scratch, bool finite_only);

#endif
