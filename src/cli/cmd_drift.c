/* cmd_drift.c — `mlplane drift`: data drift between a reference CSV and a current
 * one (src/monitor: monitor_reference_build, monitor_drift), printed as a table,
 * JSON or YAML. Exit 0 when the data set does not drift, 1 when it does, 2 on bad
 * input or usage (an unreadable or malformed file, no common columns, a column
 * numeric in one file and text in the other, a test that does not fit a column).
 * The command's thread owns everything here; monitor_drift runs the columns on a
 * few worker threads of its own and joins them before it returns. */
#include "cli/cli.h"
#include "monitor/monitor.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char drift_help[] =
    "Usage: mlplane drift --reference FILE --current FILE [--columns A,B,...]\n"
    "                     [--stattest NAME|COL=NAME]... [--threshold X|COL=X]...\n"
    "                     [--drift-share S] [--bins N] [--threads N] [-o table|json|yaml]\n\n"
    "Compares each column of the current CSV with the same column of the reference, with\n"
    "Evidently's default tests: a reference column of at most 1000 values is tested with\n"
    "Kolmogorov-Smirnov (numeric: more than 5 distinct values), chi-squared (categorical)\n"
    "or the two-proportion Z-test (binary), drift at p < 0.05; a larger one with the\n"
    "Wasserstein distance over the reference's standard deviation (numeric) or the\n"
    "Jensen-Shannon distance (categorical, binary), drift at >= 0.1. Every column also\n"
    "gets PSI (quantile bins of the reference, or the categories), KS, Wasserstein,\n"
    "chi-squared, Jensen-Shannon and its change in missing values, where they fit.\n"
    "The data set drifts when at least --drift-share of its columns do.\n\n"
    "  --reference FILE       the reference CSV (first line: column names)\n"
    "  --current FILE         the current CSV\n"
    "  --columns A,B,...      the columns to compare (default: those of both files)\n"
    "  --stattest NAME        the test of every column: ks, chisquare, z, wasserstein,\n"
    "                         jensenshannon, psi (default: chosen per column, as above)\n"
    "  --stattest COL=NAME    the test of column COL (repeatable)\n"
    "  --threshold X          every column's threshold (a p-value for ks, chisquare and z;\n"
    "                         a distance for the others; default 0.05 and 0.1)\n"
    "  --threshold COL=X      column COL's threshold (repeatable)\n"
    "  --drift-share S        the share of drifted columns at which the data set drifts\n"
    "                         (default 0.5)\n"
    "  --bins N               quantile bins of numeric columns for PSI and Jensen-Shannon\n"
    "                         (default 10)\n"
    "  --threads N            worker threads over the columns (default: the cores, at most 8);\n"
    "                         the result does not depend on it\n"
    "  -o table|json|yaml     output format (default table)\n\n"
    "Exit status: 0 no drift, 1 the data set drifts, 2 bad input or usage.\n";

#define MAX_OPTIONS 1024

typedef struct drift_args {
    const char *ref_path, *cur_path, *columns;
    monitor_drift_options o;
    monitor_column_option per[MAX_OPTIONS];
    size_t nper;
    size_t bins;
    cli_out out;
} drift_args;

/* The option slot of column col (a new one when it has none), or NULL when full. */
static monitor_column_option *per_column(drift_args *a, const char *col) {
    for (size_t k = 0; k < a->nper; k++)
        if (strcmp(a->per[k].column, col) == 0) return &a->per[k];
    if (a->nper == MAX_OPTIONS) return NULL;
    monitor_column_option *p = &a->per[a->nper++];
    p->column = col;
    p->test = MONITOR_TEST_AUTO;
    p->threshold = NAN;
    return p;
}

/* Splits "COL=V" at its last '=' (arg is modified; *col NULL when there is none). */
static const char *split_col(char *arg, const char **col) {
    char *eq = strrchr(arg, '=');
    if (!eq) {
        *col = NULL;
        return arg;
    }
    *eq = '\0';
    *col = arg;
    return eq + 1;
}

static int parse_stattest(drift_args *a, char *arg) {
    const char *col, *v = split_col(arg, &col);
    int t = monitor_test_parse(v);
    if (t < 0 || t == MONITOR_TEST_AUTO)
        return cli_fail(CLI_USAGE, "--stattest %s%s%s: unknown test (expected ks, chisquare, z, wasserstein, "
                        "jensenshannon or psi)", col ? col : "", col ? "=" : "", v);
    if (!col) {
        a->o.test = (monitor_test)t;
        return 0;
    }
    monitor_column_option *p = per_column(a, col);
    if (!p) return cli_fail(CLI_USAGE, "--stattest: more than %d per-column options", MAX_OPTIONS);
    p->test = (monitor_test)t;
    return 0;
}

static int parse_number(const char *flag, const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x)) return cli_fail(CLI_USAGE, "%s %s: expected a number", flag, v);
    *out = x;
    return 0;
}

static int parse_threshold(drift_args *a, char *arg) {
    const char *col, *v = split_col(arg, &col);
    double x = 0;
    if (parse_number("--threshold", v, &x)) return CLI_USAGE;
    if (x < 0) return cli_fail(CLI_USAGE, "--threshold %s: expected a number >= 0", v);
    if (!col) {
        a->o.threshold = x;
        return 0;
    }
    monitor_column_option *p = per_column(a, col);
    if (!p) return cli_fail(CLI_USAGE, "--threshold: more than %d per-column options", MAX_OPTIONS);
    p->threshold = x;
    return 0;
}

static int parse_args(int argc, char **argv, drift_args *a) {
    static const struct option longopts[] = {
        {"reference", required_argument, 0, 'r'}, {"current", required_argument, 0, 'c'},
        {"columns", required_argument, 0, 'C'},   {"stattest", required_argument, 0, 's'},
        {"threshold", required_argument, 0, 't'}, {"drift-share", required_argument, 0, 'S'},
        {"bins", required_argument, 0, 'b'},      {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c, n;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': a->ref_path = optarg; break;
        case 'c': a->cur_path = optarg; break;
        case 'C': a->columns = optarg; break;
        case 's':
            if (parse_stattest(a, optarg)) return CLI_USAGE;
            break;
        case 't':
            if (parse_threshold(a, optarg)) return CLI_USAGE;
            break;
        case 'S':
            if (parse_number("--drift-share", optarg, &a->o.drift_share)) return CLI_USAGE;
            if (!(a->o.drift_share > 0 && a->o.drift_share <= 1))
                return cli_fail(CLI_USAGE, "--drift-share %s: expected a share in (0, 1]", optarg);
            break;
        case 'b':
            if (cli_parse_int("--bins", optarg, 2, MONITOR_BINS_MAX, &n)) return CLI_USAGE;
            a->bins = (size_t)n;
            break;
        case 'T':
            if (cli_parse_int("--threads", optarg, 1, 64, &n)) return CLI_USAGE;
            a->o.threads = n;
            break;
        case 'o':
            if (cli_parse_out(optarg, &a->out)) return CLI_USAGE;
            break;
        case 'h': fputs(drift_help, stdout); return -1;
        default:
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane drift --help)",
                            argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_fail(CLI_USAGE, "drift: unexpected argument \"%s\" (see mlplane drift --help)",
                                       argv[optind]);
    if (!a->ref_path || !a->cur_path)
        return cli_fail(CLI_USAGE, "drift needs --reference FILE and --current FILE (see mlplane drift --help)");
    return 0;
}

static void list_columns(const monitor_table *t, mp_buf *b) {
    for (size_t j = 0; j < t->ncols; j++) mp_buf_printf(b, "%s%s", j ? ", " : "", t->cols[j].name);
    if (!t->ncols) mp_buf_printf(b, "(none)");
}

/* The columns to compare (names point into ref or into a->columns' copy *buf): those
 * of --columns, else those of both files in the reference's order. */
static int pick_columns(const drift_args *a, const monitor_table *ref, const monitor_table *cur,
                        const char ***names, size_t *n, char **buf) {
    const char **v = mp_xcalloc(ref->ncols + MONITOR_COLUMNS_MAX + 1, sizeof *v);
    size_t k = 0;
    *names = v;
    *buf = NULL;
    if (a->columns) {
        *buf = mp_xstrdup(a->columns);
        for (char *save = NULL, *tok = strtok_r(*buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            const char *miss = !monitor_table_column(ref, tok) ? a->ref_path
                               : !monitor_table_column(cur, tok) ? a->cur_path : NULL;
            if (miss) {
                mp_buf b;
                mp_buf_init(&b);
                list_columns(miss == a->ref_path ? ref : cur, &b);
                cli_fail(CLI_USAGE, "--columns: %s has no column \"%s\" (its columns: %s)", miss, tok, b.data);
                mp_buf_free(&b);
                return CLI_USAGE;
            }
            if (k < MONITOR_COLUMNS_MAX) v[k++] = tok;
        }
    } else {
        for (size_t j = 0; j < ref->ncols; j++)
            if (monitor_table_column(cur, ref->cols[j].name)) v[k++] = ref->cols[j].name;
    }
    if (k == 0) {
        mp_buf b;
        mp_buf_init(&b);
        mp_buf_printf(&b, "%s has the columns ", a->ref_path);
        list_columns(ref, &b);
        mp_buf_printf(&b, "; %s has ", a->cur_path);
        list_columns(cur, &b);
        cli_fail(CLI_USAGE, "no common columns to compare: %s", b.data);
        mp_buf_free(&b);
        return CLI_USAGE;
    }
    *n = k;
    return 0;
}

/* A column numeric in one file and text in the other, named with the text's row. */
static int check_types(const drift_args *a, const monitor_table *ref, const monitor_table *cur,
                       const char *const *names, size_t n) {
    for (size_t k = 0; k < n; k++) {
        const monitor_column *r = monitor_table_column(ref, names[k]), *c = monitor_table_column(cur, names[k]);
        const monitor_column *text = NULL;
        const char *tpath = NULL, *npath = NULL;
        if (r->type == MONITOR_COL_NUMERIC && c->type == MONITOR_COL_TEXT) text = c, tpath = a->cur_path, npath = a->ref_path;
        if (r->type == MONITOR_COL_TEXT && c->type == MONITOR_COL_NUMERIC) text = r, tpath = a->ref_path, npath = a->cur_path;
        if (!text) continue;
        return cli_fail(CLI_USAGE,
                        "%s: row %ld (line %ld), column \"%s\": \"%s\" is not a number, and the column is numeric "
                        "in %s: make both files numbers or both text in this column, or leave it out with --columns",
                        tpath, text->first_text_row, text->first_text_line, names[k], text->first_text, npath);
    }
    for (size_t p = 0; p < a->nper; p++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) found = strcmp(names[k], a->per[p].column) == 0;
        if (!found)
            return cli_fail(CLI_USAGE, "--stattest/--threshold name column \"%s\", which is not compared (not in "
                            "both files, or left out by --columns)", a->per[p].column);
    }
    return 0;
}

static json_t *result_json(const drift_args *a, const monitor_table *ref, const monitor_table *cur,
                           const monitor_drift_result *r) {
    json_t *cols = json_array();
    for (size_t j = 0; j < r->ncols; j++) json_array_append_new(cols, monitor_column_drift_json(&r->cols[j]));
    return json_pack("{s:s,s:s,s:{s:I,s:I},s:o,s:o}", "reference", a->ref_path, "current", a->cur_path, "rows",
                     "reference", (json_int_t)ref->nrows, "current", (json_int_t)cur->nrows, "columns", cols, "drift",
                     monitor_drift_summary_json(r));
}

static void fmt(char *out, size_t n, double x) {
    if (isnan(x)) snprintf(out, n, "-");
    else snprintf(out, n, "%.4g", x);
}

static void print_table(const monitor_drift_result *r) {
    static const char *const header[] = {"COLUMN", "KIND", "TEST", "STATISTIC", "THRESHOLD", "DRIFT", "PSI",
                                         "KS_P", "WASS_NORM", "CHI2_P", "JS", "MISSING"};
    cli_table t;
    cli_table_init(&t, 12, header);
    for (size_t j = 0; j < r->ncols; j++) {
        const monitor_column_drift *d = &r->cols[j];
        char st[32], th[32], psi[32], ksp[32], wn[32], chi[32], js[32], miss[64];
        fmt(st, sizeof st, d->statistic);
        fmt(th, sizeof th, d->threshold);
        fmt(psi, sizeof psi, d->psi);
        fmt(ksp, sizeof ksp, d->ks_p);
        fmt(wn, sizeof wn, d->wasserstein_norm);
        fmt(chi, sizeof chi, d->chi2_p);
        fmt(js, sizeof js, d->js);
        snprintf(miss, sizeof miss, "%.1f%%->%.1f%%", 100 * d->missing_ref, 100 * d->missing_cur);
        const char *row[] = {d->name, monitor_kind_name(d->kind), monitor_test_name(d->test), st, th,
                             d->test == MONITOR_TEST_NONE ? "-" : d->drifted ? "yes" : "no", psi, ksp, wn, chi, js,
                             miss};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
    printf("\ndrifted columns: %zu of %zu (%.1f%%); data set drift: %s (at >= %.1f%% of columns)\n", r->ndrifted,
           r->ntested, 100 * r->share, r->drift ? "yes" : "no", 100 * r->drift_share);
}

int cmd_drift(cli_env *env, int argc, char **argv) {
    (void)env;
    drift_args *a = mp_xcalloc(1, sizeof *a);
    monitor_drift_options_init(&a->o);
    int status = parse_args(argc, argv, a);
    if (status) {
        free(a);
        return status < 0 ? CLI_OK : status;
    }
    a->o.per_column = a->per;
    a->o.nper_column = a->nper;
    monitor_table ref = {0}, cur = {0};
    monitor_reference mref = {0};
    monitor_drift_result res = {0};
    const char **names = NULL;
    char *buf = NULL;
    size_t n = 0;
    mp_err e = {0};
    if (monitor_table_read(a->ref_path, false, &ref, &e) != 0 || monitor_table_read(a->cur_path, false, &cur, &e) != 0) {
        status = cli_fail(CLI_USAGE, "%s", e.msg);
        goto out;
    }
    if ((status = pick_columns(a, &ref, &cur, &names, &n, &buf)) != 0) goto out;
    if ((status = check_types(a, &ref, &cur, names, n)) != 0) goto out;
    if (monitor_reference_build(&ref, names, n, a->bins, a->o.threads, &mref, &e) != 0 ||
        monitor_drift(&mref, &cur, &a->o, &res, &e) != 0) {
        status = cli_fail(CLI_USAGE, "drift: %s", e.msg);
        goto out;
    }
    if (a->out == OUT_TABLE) {
        print_table(&res);
    } else {
        json_t *j = result_json(a, &ref, &cur, &res);
        cli_print_json(j, a->out);
        json_decref(j);
    }
    status = res.drift ? CLI_FAILED : CLI_OK;
out:
    monitor_drift_result_free(&res);
    monitor_reference_free(&mref);
    monitor_table_free(&ref);
    monitor_table_free(&cur);
    free(names);
    free(buf);
    free(a);
    return status;
}
