/* drift_bench.c — the data and the timings of bench/drift (run.sh drives it).
 *   drift_bench gen DIR ROWS COLS   writes DIR/ref.f64 and DIR/cur.f64: COLS columns of
 *                                   ROWS float64 each, column after column (native
 *                                   byte order, numpy's np.fromfile reads them); the
 *                                   reference N(0, 1), the current column j
 *                                   N(0.01 j, 1 + 0.01 j); GSL's MT19937, seed 42.
 *   drift_bench csv DIR ROWS COLS ALL_ROWS
 *                                   the first ROWS rows of those (written with ALL_ROWS
 *                                   rows) as DIR/ref.csv and DIR/cur.csv, for
 *                                   `mlplane drift` end to end.
 *   drift_bench run DIR ROWS COLS SCIPY_SECONDS [REPEAT [SCIPY_CPU_SECONDS]]
 *                                   times monitor_reference_build + monitor_drift (the
 *                                   reference not precomputed: both sides sorted) and
 *                                   monitor_drift alone (the reference precomputed),
 *                                   best of REPEAT (3); compares each column's KS
 *                                   statistic with DIR/scipy_d.txt; prints BENCH lines
 *                                   (wall-clock, and the CPU seconds of the same runs).
 * Single-threaded except inside monitor_*, which runs the columns on its workers. */
#include "monitor/monitor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static char *path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int gen(const char *dir, size_t rows, size_t cols) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    double *v = malloc(rows * sizeof *v);
    const char *names[] = {"ref.f64", "cur.f64"};
    for (int side = 0; side < 2; side++) {
        char *p = path(dir, names[side]);
        FILE *f = fopen(p, "wb");
        if (!f) {
            perror(p);
            return 1;
        }
        for (size_t j = 0; j < cols; j++) {
            double mean = side ? 0.01 * (double)j : 0, sd = side ? 1 + 0.01 * (double)j : 1;
            for (size_t i = 0; i < rows; i++) v[i] = mean + gsl_ran_gaussian(r, sd);
            if (fwrite(v, sizeof *v, rows, f) != rows) {
                perror(p);
                return 1;
            }
        }
        if (fclose(f) != 0) return 1;
        free(p);
    }
    free(v);
    gsl_rng_free(r);
    return 0;
}

/* COLS columns of ROWS doubles from DIR/name (column after column), or NULL. */
static double *load(const char *dir, const char *name, size_t rows, size_t cols) {
    char *p = path(dir, name);
    FILE *f = fopen(p, "rb");
    double *v = malloc(rows * cols * sizeof *v);
    if (!f || fread(v, sizeof *v, rows * cols, f) != rows * cols) {
        fprintf(stderr, "drift_bench: cannot read %zu x %zu values from %s\n", rows, cols, p);
        exit(2);
    }
    fclose(f);
    free(p);
    return v;
}

static int csv(const char *dir, size_t rows, size_t cols, size_t all_rows) {
    const char *in[] = {"ref.f64", "cur.f64"}, *out[] = {"ref.csv", "cur.csv"};
    for (int side = 0; side < 2; side++) {
        double *v = load(dir, in[side], all_rows, cols);
        char *p = path(dir, out[side]);
        FILE *f = fopen(p, "w");
        if (!f) return 1;
        for (size_t j = 0; j < cols; j++) fprintf(f, "%sx%zu", j ? "," : "", j);
        fputc('\n', f);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) fprintf(f, "%.17g%c", v[j * all_rows + i], j + 1 < cols ? ',' : '\n');
        if (fclose(f) != 0) return 1;
        free(p);
        free(v);
    }
    return 0;
}

/* A table whose columns point at v's (not owned: freed by hand). */
static void as_table(double *v, size_t rows, size_t cols, monitor_table *t) {
    memset(t, 0, sizeof *t);
    t->cols = calloc(cols, sizeof *t->cols);
    t->ncols = cols;
    t->nrows = rows;
    for (size_t j = 0; j < cols; j++) {
        t->cols[j].name = malloc(24);
        snprintf(t->cols[j].name, 24, "x%zu", j);
        t->cols[j].type = MONITOR_COL_NUMERIC;
        t->cols[j].num = v + j * rows;
    }
}

static void table_release(monitor_table *t) {
    for (size_t j = 0; j < t->ncols; j++) free(t->cols[j].name);
    free(t->cols);
}

static int run(const char *dir, size_t rows, size_t cols, double scipy_s, int repeat, double scipy_cpu) {
    double *rv = load(dir, "ref.f64", rows, cols), *cv = load(dir, "cur.f64", rows, cols);
    monitor_table rt, ct;
    as_table(rv, rows, cols, &rt);
    as_table(cv, rows, cols, &ct);
    double rss_data = peak_rss_mib();
    monitor_drift_options o;
    monitor_drift_options_init(&o);
    o.test = MONITOR_TEST_PSI; /* PSI decides; KS computed beside it (Wasserstein left out) */
    o.figures = MONITOR_FIGURE_KS;
    mp_err e = {0};
    double best_a = INFINITY, best_b = INFINITY, build_s = INFINITY, cpu_a = 0, cpu_b = 0;
    monitor_reference ref = {0};
    monitor_drift_result res = {0};
    for (int k = 0; k < repeat; k++) {
        monitor_reference_free(&ref);
        monitor_drift_result_free(&res);
        double t0 = now(), c0 = cpu_s();
        if (monitor_reference_build(&rt, NULL, 0, 10, 0, &ref, &e) != 0) goto fail;
        double t1 = now();
        if (monitor_drift(&ref, &ct, &o, &res, &e) != 0) goto fail;
        double t2 = now();
        if (t2 - t0 < best_a) best_a = t2 - t0, cpu_a = cpu_s() - c0;
        if (t1 - t0 < build_s) build_s = t1 - t0;
    }
    for (int k = 0; k < repeat; k++) {
        monitor_drift_result_free(&res);
        double t0 = now(), c0 = cpu_s();
        if (monitor_drift(&ref, &ct, &o, &res, &e) != 0) goto fail;
        double t1 = now();
        if (t1 - t0 < best_b) best_b = t1 - t0, cpu_b = cpu_s() - c0;
    }
    double rss_peak = peak_rss_mib();
    /* SciPy's statistics, one line each */
    char *p = path(dir, "scipy_d.txt");
    FILE *f = fopen(p, "r");
    double maxdiff = 0;
    size_t nread = 0;
    for (double d; f && nread < cols && fscanf(f, "%lf", &d) == 1; nread++) {
        double diff = fabs(d - res.cols[nread].ks_d);
        if (diff > maxdiff) maxdiff = diff;
    }
    if (f) fclose(f);
    free(p);
    printf("BENCH drift_ks_d_vs_scipy %.3g abs target <= 1e-12 %s\n", nread == cols ? maxdiff : NAN,
           nread == cols && maxdiff <= 1e-12 ? "ok" : "SHORT");
    printf("BENCH drift_scipy_ks_2samp_%zux%zu %.3f s target > 0 ok\n", rows, cols, scipy_s);
    printf("BENCH drift_reference_build %.3f s target > 0 ok\n", build_s);
    printf("BENCH drift_psi_ks_not_precomputed %.3f s target > 0 ok\n", best_a);
    printf("BENCH drift_psi_ks_precomputed %.3f s target > 0 ok\n", best_b);
    printf("BENCH drift_cpu_not_precomputed %.3f cpu_s target > 0 ok\n", cpu_a);
    printf("BENCH drift_cpu_precomputed %.3f cpu_s target > 0 ok\n", cpu_b);
    if (scipy_cpu > 0) {
        printf("BENCH drift_scipy_cpu %.3f cpu_s target > 0 ok\n", scipy_cpu);
        printf("BENCH drift_cpu_ratio_not_precomputed %.1f x target > 0 ok\n", scipy_cpu / cpu_a);
        printf("BENCH drift_cpu_ratio_precomputed %.1f x target > 0 ok\n", scipy_cpu / cpu_b);
    }
    printf("BENCH drift_speedup_not_precomputed %.1f x target >= 20 %s\n", scipy_s / best_a,
           scipy_s / best_a >= 20 ? "ok" : "SHORT");
    printf("BENCH drift_speedup_precomputed %.1f x target >= 20 %s\n", scipy_s / best_b,
           scipy_s / best_b >= 20 ? "ok" : "SHORT");
    /* rows/s: rows of the current sample (each of COLS features) compared per second */
    printf("BENCH drift_rows_per_s_not_precomputed %.3g rows/s target > 0 ok\n", (double)rows / best_a);
    printf("BENCH drift_rows_per_s_precomputed %.3g rows/s target > 0 ok\n", (double)rows / best_b);
    printf("BENCH drift_peak_rss %.0f MiB target > 0 ok\n", rss_peak);
    printf("BENCH drift_peak_rss_over_data %.0f MiB target > 0 ok\n", rss_peak - rss_data);
    monitor_drift_result_free(&res);
    monitor_reference_free(&ref);
    table_release(&rt);
    table_release(&ct);
    free(rv);
    free(cv);
    return 0;
fail:
    fprintf(stderr, "drift_bench: %s\n", e.msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "gen") == 0) return gen(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10));
    if (argc >= 6 && strcmp(argv[1], "csv") == 0)
        return csv(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10), strtoul(argv[5], 0, 10));
    if (argc >= 6 && strcmp(argv[1], "run") == 0)
        return run(argv[2], strtoul(argv[3], 0, 10), strtoul(argv[4], 0, 10), strtod(argv[5], 0),
                   argc > 6 ? atoi(argv[6]) : 3, argc > 7 ? strtod(argv[7], 0) : 0);
    fprintf(stderr, "usage: drift_bench gen DIR ROWS COLS | csv DIR ROWS COLS ALL_ROWS | "
                    "run DIR ROWS COLS SCIPY_SECONDS [REPEAT [SCIPY_CPU_SECONDS]]\n");
    return 2;
}
