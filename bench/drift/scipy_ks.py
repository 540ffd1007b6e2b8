"""bench/drift: scipy.stats.ks_2samp (method "auto") over each column of the files
drift_bench gen wrote; prints the seconds of all the calls together, wall-clock and CPU
(the files read before the clock starts) and writes each column's statistic to DIR/scipy_d.txt.
Usage: /usr/bin/python3 scipy_ks.py DIR ROWS COLS"""
import sys
import time

import numpy as np
from scipy import stats

d, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ref = np.fromfile(f"{d}/ref.f64", dtype=np.float64).reshape(cols, rows)
cur = np.fromfile(f"{d}/cur.f64", dtype=np.float64).reshape(cols, rows)
t0, c0 = time.perf_counter(), time.process_time()
res = [stats.ks_2samp(ref[j], cur[j]) for j in range(cols)]
t1, c1 = time.perf_counter(), time.process_time()
with open(f"{d}/scipy_d.txt", "w") as f:
    for r in res:
        f.write(f"{r.statistic:.17g}\n")
print(f"{t1 - t0:.6f} {c1 - c0:.6f}")
