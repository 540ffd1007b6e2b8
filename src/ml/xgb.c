/* xgb.c — `mlplane xgb train|eval|predict`: gradient-boosted trees through the
 * XGBoost C API (libxgboost 1.7), on the numeric CSV files of data.c.
 *
 *   mlplane xgb train --train FILE [--valid FILE] --model OUT.json|OUT.ubj
 *                     [--rounds 100] [--max-depth 4] [--eta 0.1] [--seed 0]
 *                     [--nthread 1] [--history OUT.json] [--quiet]
 *   mlplane xgb eval --model FILE --data FILE [--metrics OUT.json]
 *   mlplane xgb predict --model FILE --data FILE [--out FILE]
 *
 * Training is binary:logistic with the hist tree method; after every round the
 * booster evaluates logloss and auc on the training (and validation) matrix with
 * XGBoosterEvalOneIter, whose "[i]\ttrain-logloss:0.5\t..." string is parsed into
 * the history. Evaluation also uses XGBoost's own metrics (auc, logloss, error),
 * never a hand-written AUC. Models and JSON outputs are written through a
 * temporary file and rename, so a failed step leaves no half-written model. Every
 * XGBoost call is checked; failures carry XGBGetLastError(). Exit status: 0 ok,
 * 1 failure, 2 bad usage. */
#include "ml/ml.h"
#include "ml/ml_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

/* ---- XGBoost plumbing ------------------------------------------------------------ */

int ml_xgb_error(mp_err *e, const char *what) {
    const char *m = XGBGetLastError();
    /* XGBoost's messages start with a "[hh:mm:ss] " time stamp and can span lines
     * with a stack trace; keep the first line without the stamp. */
    if (m && m[0] == '[' && strstr(m, "] ")) m = strstr(m, "] ") + 2;
    size_t n = m ? strcspn(m, "\n") : 0;
    return mp_err_set(e, MP_EIO, "XGBoost failed to %s: %.*s", what, (int)n, m ? m : "unknown error");
}

#define XGB_TRY(call, what)                                                                                  \
    do {                                                                                                     \
        if ((call) != 0) {                                                                                   \
            rc = ml_xgb_error(e, what);                                                                          \
            goto out;                                                                                        \
        }                                                                                                    \
    } while (0)

/* Reads a labelled CSV into a DMatrix with its labels; labels must be 0 or 1. */
static int load_matrix(const char *path, DMatrixHandle *out, size_t *nrows, mp_err *e) {
    *out = NULL;
    ml_table t;
    int rc = ml_csv_read(path, &t, NULL, e);
    float *x = NULL, *y = NULL;
    if (rc) goto out;
    for (size_t i = 0; i < t.nrows; i++)
        if (t.y[i] > 1) {
            rc = mp_err_set(e, MP_EINVAL, "%s:%ld: label %d: binary:logistic needs labels 0 or 1", path, t.lineno[i],
                            t.y[i]);
            goto out;
        }
    x = mp_xmalloc(t.nrows * t.nfeat * sizeof *x);
    y = mp_xmalloc(t.nrows * sizeof *y);
    for (size_t i = 0; i < t.nrows * t.nfeat; i++) x[i] = (float)t.x[i];
    for (size_t i = 0; i < t.nrows; i++) y[i] = (float)t.y[i];
    XGB_TRY(XGDMatrixCreateFromMat(x, t.nrows, t.nfeat, NAN, out), "create a matrix from the data");
    XGB_TRY(XGDMatrixSetFloatInfo(*out, "label", y, t.nrows), "set the labels");
    if (nrows) *nrows = t.nrows;
out:
    if (rc && *out) {
        XGDMatrixFree(*out);
        *out = NULL;
    }
    free(x);
    free(y);
    ml_table_free(&t);
    return rc;
}

static int set_param(BoosterHandle h, const char *k, const char *v, mp_err *e) {
    if (XGBoosterSetParam(h, k, v) != 0) {
        char what[256];
        snprintf(what, sizeof what, "set %s=%s", k, v);
        return ml_xgb_error(e, what);
    }
    return 0;
}

/* Calls fn(ud, "train-logloss", 0.25) for each "NAME:VALUE" after the "[i]" of an
 * XGBoosterEvalOneIter result. */
typedef int (*metric_fn)(void *ud, const char *name, double value, mp_err *e);

static int parse_eval(const char *s, metric_fn fn, void *ud, mp_err *e) {
    char *copy = mp_xstrdup(s), *save = NULL;
    int rc = 0, n = 0;
    for (char *tok = strtok_r(copy, "\t", &save); tok && rc == 0; tok = strtok_r(NULL, "\t", &save)) {
        if (tok[0] == '[') continue;
        char *colon = strrchr(tok, ':'), *end;
        double v = colon ? strtod(colon + 1, &end) : 0;
        if (!colon || end == colon + 1 || *end) {
            rc = mp_err_set(e, MP_EINTERNAL, "cannot parse XGBoost's evaluation '%s'", s);
            break;
        }
        *colon = '\0';
        rc = fn(ud, tok, v, e);
        n++;
    }
    if (rc == 0 && n == 0) rc = mp_err_set(e, MP_EINTERNAL, "XGBoost's evaluation '%s' holds no metric", s);
    free(copy);
    return rc;
}

static int write_json(const char *path, json_t *v, size_t flags, mp_err *e) {
    char *s = json_dumps(v, flags);
    if (!s) return mp_err_set(e, MP_EINTERNAL, "cannot encode %s as JSON (a metric is not finite?)", path);
    mp_buf b;
    mp_buf_init(&b);
    mp_buf_puts(&b, s);
    mp_buf_putc(&b, '\n');
    free(s);
    int rc = mp_write_file_atomic(path, b.data, b.len, e);
    mp_buf_free(&b);
    return rc;
}

/* The save format from the model path's extension. */
static const char *model_format(const char *path) {
    if (mp_str_ends(path, ".json")) return "json";
    if (mp_str_ends(path, ".ubj")) return "ubj";
    return NULL;
}

/* ---- train ----------------------------------------------------------------------- */

typedef struct train_round {
    json_t *history; /* name -> [values] */
    mp_buf line;     /* progress line */
} train_round;

static int record_metric(void *ud, const char *name, double v, mp_err *e) {
    train_round *tr = ud;
    json_t *arr = json_object_get(tr->history, name);
    if (!arr) {
        arr = json_array();
        json_object_set_new(tr->history, name, arr);
    }
    json_t *num = json_real(v);
    if (!num) return mp_err_set(e, MP_EIO, "metric %s is not a finite number (%g)", name, v);
    json_array_append_new(arr, num);
    mp_buf_printf(&tr->line, " %s=%.6f", name, v);
    return 0;
}

int ml_xgb_train(const ml_train_opts *o, mp_err *e) {
    const char *fmt = model_format(o->model);
    if (!fmt) return mp_err_set(e, MP_EINVAL, "model file %s must end in .json or .ubj", o->model);
    DMatrixHandle dm[2] = {NULL, NULL};
    BoosterHandle h = NULL;
    train_round tr = {.history = json_object()};
    mp_buf_init(&tr.line);
    const char *names[2] = {"train", "valid"};
    bst_ulong ndm = o->valid ? 2 : 1;
    size_t ntrain = 0;
    int rc = load_matrix(o->train, &dm[0], &ntrain, e);
    if (rc == 0 && o->valid) rc = load_matrix(o->valid, &dm[1], NULL, e);
    if (rc) goto out;
    XGB_TRY(XGBoosterCreate(dm, ndm, &h), "create a booster");
    char num[64];
    struct {
        const char *k, *v;
    } fixed[] = {
        {"objective", "binary:logistic"}, {"eval_metric", "logloss"}, {"eval_metric", "auc"},
        {"tree_method", "hist"},          {"verbosity", "1"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed && rc == 0; i++) rc = set_param(h, fixed[i].k, fixed[i].v, e);
    snprintf(num, sizeof num, "%d", o->max_depth);
    if (rc == 0) rc = set_param(h, "max_depth", num, e);
    snprintf(num, sizeof num, "%.17g", o->eta);
    if (rc == 0) rc = set_param(h, "eta", num, e);
    snprintf(num, sizeof num, "%d", o->seed);
    if (rc == 0) rc = set_param(h, "seed", num, e);
    snprintf(num, sizeof num, "%d", o->nthread);
    if (rc == 0) rc = set_param(h, "nthread", num, e);
    if (rc) goto out;
    if (!o->quiet)
        printf("training %d rounds on %zu rows of %s (max_depth %d, eta %g, seed %d)\n", o->rounds, ntrain, o->train,
               o->max_depth, o->eta, o->seed);
    for (int i = 0; i < o->rounds; i++) {
        const char *res = NULL;
        XGB_TRY(XGBoosterUpdateOneIter(h, i, dm[0]), "run a boosting round");
        XGB_TRY(XGBoosterEvalOneIter(h, i, dm, names, ndm, &res), "evaluate a round");
        mp_buf_reset(&tr.line);
        rc = parse_eval(res, record_metric, &tr, e);
        if (rc) goto out;
        if (!o->quiet && ((i + 1) % 10 == 0 || i + 1 == o->rounds)) printf("round %d%s\n", i + 1, tr.line.data);
    }
    bst_ulong len = 0;
    const char *buf = NULL;
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"format\": \"%s\"}", fmt);
    XGB_TRY(XGBoosterSaveModelToBuffer(h, cfg, &len, &buf), "serialise the model");
    rc = mp_write_file_atomic(o->model, buf, (size_t)len, e);
    if (rc == 0 && o->history) rc = write_json(o->history, tr.history, JSON_COMPACT | JSON_REAL_PRECISION(6), e);
    if (rc == 0 && !o->quiet) printf("model written to %s\n", o->model);
out:
    if (h) XGBoosterFree(h);
    for (int i = 0; i < 2; i++)
        if (dm[i]) XGDMatrixFree(dm[i]);
    json_decref(tr.history);
    mp_buf_free(&tr.line);
    return rc;
}

/* ---- eval and predict ------------------------------------------------------------ */

/* Creates a booster (caching matrix d when non-NULL) and loads the model file. */
static int load_booster(const char *model, DMatrixHandle d, BoosterHandle *out, mp_err *e) {
    *out = NULL;
    if (!mp_path_exists(model)) return mp_err_set(e, MP_ENOENT, "model file %s does not exist", model);
    BoosterHandle h = NULL;
    int rc = 0;
    char what[512];
    XGB_TRY(XGBoosterCreate(d ? &d : NULL, d ? 1 : 0, &h), "create a booster");
    snprintf(what, sizeof what, "load the model %.400s", model);
    XGB_TRY(XGBoosterLoadModel(h, model), what);
    rc = set_param(h, "nthread", "1", e);
    if (rc == 0) {
        *out = h;
        h = NULL;
    }
out:
    if (h) XGBoosterFree(h);
    return rc;
}

typedef struct eval_acc {
    double auc, logloss, error;
    int seen; /* bit per metric */
} eval_acc;

static int take_eval_metric(void *ud, const char *name, double v, mp_err *e) {
    eval_acc *a = ud;
    (void)e;
    if (strcmp(name, "data-auc") == 0) a->auc = v, a->seen |= 1;
    if (strcmp(name, "data-logloss") == 0) a->logloss = v, a->seen |= 2;
    if (strcmp(name, "data-error") == 0) a->error = v, a->seen |= 4;
    return 0;
}

int ml_xgb_eval(const char *model, const char *data, ml_metrics *m, mp_err *e) {
    DMatrixHandle d = NULL;
    BoosterHandle h = NULL;
    size_t rows = 0;
    eval_acc acc = {0};
    int rc = load_matrix(data, &d, &rows, e);
    if (rc == 0) rc = load_booster(model, d, &h, e);
    static const char *const metrics[] = {"auc", "logloss", "error"};
    for (size_t i = 0; i < 3 && rc == 0; i++) rc = set_param(h, "eval_metric", metrics[i], e);
    if (rc) goto out;
    const char *res = NULL, *names[1] = {"data"};
    XGB_TRY(XGBoosterEvalOneIter(h, 0, &d, names, 1, &res), "evaluate the model");
    rc = parse_eval(res, take_eval_metric, &acc, e);
    if (rc) goto out;
    if (acc.seen != 7) {
        rc = mp_err_set(e, MP_EINTERNAL, "XGBoost's evaluation '%s' lacks auc, logloss or error", res);
        goto out;
    }
    if (!isfinite(acc.auc) || !isfinite(acc.logloss) || !isfinite(acc.error)) {
        rc = mp_err_set(e, MP_EINVAL, "metrics of %s are not finite ('%s'); does it hold both classes?", data, res);
        goto out;
    }
    m->auc = acc.auc;
    m->logloss = acc.logloss;
    m->accuracy = 1.0 - acc.error;
    m->rows = rows;
out:
    if (h) XGBoosterFree(h);
    if (d) XGDMatrixFree(d);
    return rc;
}

int ml_xgb_predict(const char *model, const char *data, float **out, size_t *n, mp_err *e) {
    *out = NULL;
    *n = 0;
    ml_table t;
    DMatrixHandle d = NULL;
    BoosterHandle h = NULL;
    float *x = NULL;
    bst_ulong want = 0;
    int rc = ml_csv_read_opts(data, false, &t, NULL, e);
    if (rc) goto out;
    /* Learn the model's feature count first: the label column is optional. */
    rc = load_booster(model, NULL, &h, e);
    if (rc) goto out;
    XGB_TRY(XGBoosterGetNumFeature(h, &want), "read the model's feature count");
    size_t cols = t.nfeat;
    if (cols != want && cols != want + 1) {
        rc = mp_err_set(e, MP_EINVAL, "%s has %zu columns but the model takes %llu features (plus an optional label)",
                        data, cols, (unsigned long long)want);
        goto out;
    }
    x = mp_xmalloc(t.nrows * (size_t)want * sizeof *x);
    for (size_t i = 0; i < t.nrows; i++)
        for (size_t j = 0; j < (size_t)want; j++) x[i * want + j] = (float)t.x[i * cols + j];
    XGB_TRY(XGDMatrixCreateFromMat(x, t.nrows, want, NAN, &d), "create a matrix from the data");
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    static const char cfg[] =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}";
    XGB_TRY(XGBoosterPredictFromDMatrix(h, d, cfg, &shape, &dim, &res), "predict");
    if (dim != 1 || shape[0] != t.nrows) {
        rc = mp_err_set(e, MP_EINTERNAL, "XGBoost returned predictions of an unexpected shape (%llu dims)",
                        (unsigned long long)dim);
        goto out;
    }
    *out = mp_xmalloc((t.nrows ? t.nrows : 1) * sizeof **out);
    memcpy(*out, res, t.nrows * sizeof **out);
    *n = t.nrows;
out:
    if (h) XGBoosterFree(h);
    if (d) XGDMatrixFree(d);
    free(x);
    ml_table_free(&t);
    return rc;
}

/* ---- command line ---------------------------------------------------------------- */

static const char TRAIN_USAGE[] =
    "usage: mlplane xgb train --train FILE [--valid FILE] --model OUT.json|OUT.ubj [--rounds 100] [--max-depth 4]\n"
    "                         [--eta 0.1] [--seed 0] [--nthread 1] [--history OUT.json] [--quiet]";
static const char EVAL_USAGE[] = "usage: mlplane xgb eval --model FILE --data FILE [--metrics OUT.json]";
static const char PREDICT_USAGE[] = "usage: mlplane xgb predict --model FILE --data FILE [--out FILE]";

static int usage_error(const char *usage, const mp_err *e) {
    fprintf(stderr, "mlplane xgb: %s\n%s\n", e->msg, usage);
    return 2;
}

static int failed(const char *cmd, const mp_err *e) {
    fprintf(stderr, "mlplane xgb %s: %s\n", cmd, e->msg);
    return 1;
}

static int cmd_train(int argc, char **argv) {
    ml_train_opts o = {.rounds = 100, .max_depth = 4, .eta = 0.1, .seed = 0, .nthread = 1};
    int quiet = 0;
    const char *qv = NULL;
    size_t npos;
    ml_opt opts[] = {
        {"--train", ML_OPT_STR, &o.train, 0, 0, true, false},
        {"--valid", ML_OPT_STR, &o.valid, 0, 0, false, false},
        {"--model", ML_OPT_STR, &o.model, 0, 0, true, false},
        {"--history", ML_OPT_STR, &o.history, 0, 0, false, false},
        {"--rounds", ML_OPT_INT, &o.rounds, 1, 100000, false, false},
        {"--max-depth", ML_OPT_INT, &o.max_depth, 1, 64, false, false},
        {"--eta", ML_OPT_REAL, &o.eta, 1e-9, 1, false, false},
        {"--seed", ML_OPT_INT, &o.seed, 0, 2147483647, false, false},
        {"--nthread", ML_OPT_INT, &o.nthread, 1, 1024, false, false},
    };
    /* --quiet takes no value: pull it out before parsing. */
    char **args = mp_xcalloc((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else
            args[nargs++] = argv[i];
    }
    mp_err e = {0};
    int rc = ml_parse_args(nargs, args, opts, sizeof opts / sizeof *opts, &qv, 0, &npos, &e);
    free(args);
    if (rc == 1) {
        printf("%s\n"
               "Trains a binary:logistic XGBoost model (labels 0/1 in the last CSV column) and\n"
               "prints train/valid logloss and auc every 10 rounds; --history writes them per\n"
               "round as JSON. The model format follows the extension: .json or .ubj.\n",
               TRAIN_USAGE);
        return 0;
    }
    if (rc == 0 && !model_format(o.model)) rc = mp_err_set(&e, MP_EINVAL, "--model must end in .json or .ubj");
    if (rc) return usage_error(TRAIN_USAGE, &e);
    o.quiet = quiet;
    if (ml_xgb_train(&o, &e) != 0) return failed("train", &e);
    return 0;
}

static int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *metrics = NULL, *pos = NULL;
    size_t npos;
    ml_opt opts[] = {
        {"--model", ML_OPT_STR, &model, 0, 0, true, false},
        {"--data", ML_OPT_STR, &data, 0, 0, true, false},
        {"--metrics", ML_OPT_STR, &metrics, 0, 0, false, false},
    };
    mp_err e = {0};
    int rc = ml_parse_args(argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, &npos, &e);
    if (rc == 1) {
        printf("%s\n"
               "Evaluates the model on labelled data with XGBoost's metrics and prints (and\n"
               "with --metrics writes) {\"accuracy\":..,\"auc\":..,\"logloss\":..,\"rows\":N}.\n",
               EVAL_USAGE);
        return 0;
    }
    if (rc) return usage_error(EVAL_USAGE, &e);
    ml_metrics m;
    if (ml_xgb_eval(model, data, &m, &e) != 0) return failed("eval", &e);
    json_t *o = json_object();
    json_object_set_new(o, "accuracy", json_real(m.accuracy));
    json_object_set_new(o, "auc", json_real(m.auc));
    json_object_set_new(o, "logloss", json_real(m.logloss));
    json_object_set_new(o, "rows", json_integer((json_int_t)m.rows));
    size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(6);
    char *s = json_dumps(o, flags);
    if (s) puts(s);
    free(s);
    rc = metrics ? write_json(metrics, o, flags, &e) : 0;
    json_decref(o);
    return rc ? failed("eval", &e) : 0;
}

static int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *outp = NULL, *pos = NULL;
    size_t npos;
    ml_opt opts[] = {
        {"--model", ML_OPT_STR, &model, 0, 0, true, false},
        {"--data", ML_OPT_STR, &data, 0, 0, true, false},
        {"--out", ML_OPT_STR, &outp, 0, 0, false, false},
    };
    mp_err e = {0};
    int rc = ml_parse_args(argc, argv, opts, sizeof opts / sizeof *opts, &pos, 0, &npos, &e);
    if (rc == 1) {
        printf("%s\n"
               "Prints P(label = 1) for each row of --data, one per line in file order (or\n"
               "writes them to --out). The label column of --data is optional.\n",
               PREDICT_USAGE);
        return 0;
    }
    if (rc) return usage_error(PREDICT_USAGE, &e);
    float *p = NULL;
    size_t n = 0;
    if (ml_xgb_predict(model, data, &p, &n, &e) != 0) return failed("predict", &e);
    mp_buf b;
    mp_buf_init(&b);
    for (size_t i = 0; i < n; i++) mp_buf_printf(&b, "%.9g\n", (double)p[i]);
    free(p);
    if (outp) {
        rc = mp_write_file_atomic(outp, b.data, b.len, &e);
    } else {
        fwrite(b.data, 1, b.len, stdout);
        rc = fflush(stdout) == 0 ? 0 : mp_err_set(&e, MP_EIO, "cannot write to stdout");
    }
    mp_buf_free(&b);
    return rc ? failed("predict", &e) : 0;
}

typedef struct xgb_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} xgb_cmd;

static const xgb_cmd XGB_CMDS[] = {
    {"train", cmd_train, TRAIN_USAGE},
    {"eval", cmd_eval, EVAL_USAGE},
    {"predict", cmd_predict, PREDICT_USAGE},
};

int ml_xgb_main(int argc, char **argv) {
    size_t ncmd = sizeof XGB_CMDS / sizeof *XGB_CMDS;
    bool help = argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
                              strcmp(argv[0], "help") == 0);
    if (argc >= 1 && !help)
        for (size_t i = 0; i < ncmd; i++)
            if (strcmp(argv[0], XGB_CMDS[i].name) == 0) return XGB_CMDS[i].fn(argc, argv);
    FILE *out = help ? stdout : stderr;
    if (argc >= 1 && !help) fprintf(out, "mlplane xgb: unknown sub-command '%s'\n", argv[0]);
    for (size_t i = 0; i < ncmd; i++) fprintf(out, "%s\n", XGB_CMDS[i].usage);
    return help ? 0 : 2;
}
