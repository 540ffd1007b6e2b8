/* serve_helpers.h — the fixture the serving unit tests share: an empty scratch
 * folder MLPLANE_TEST_TMP/NAME and an XGBoost model trained there on the
 * breast-cancer data (30 rounds, depth 4). Included by tests/unit/test_serve*.c
 * after ml/ml_int.h. */
#ifndef MLPLANE_TEST_SERVE_HELPERS_H
#define MLPLANE_TEST_SERVE_HELPERS_H

#include <stdio.h>
#include <stdlib.h>

/* Fills tmp (the folder, made empty), data (the CSV) and model (TMP/bc.json,
 * trained); 0, or -1 with the reason on stderr. */
static int serve_fixture(const char *name, char *tmp, size_t tn, char *data, size_t dn, char *model, size_t mn) {
    const char *t = getenv("MLPLANE_TEST_TMP"), *src = getenv("MLPLANE_SRC");
    if (!t || !src) {
        fprintf(stderr, "MLPLANE_TEST_TMP and MLPLANE_SRC must be set (run through ctest)\n");
        return -1;
    }
    snprintf(tmp, tn, "%s/%s", t, name);
    snprintf(data, dn, "%s/examples/data/breast_cancer.csv", src);
    snprintf(model, mn, "%s/bc.json", tmp);
    mp_err e = {0};
    ml_train_opts o = {.train = data, .model = model, .rounds = 30, .max_depth = 4, .eta = 0.3, .nthread = 1, .quiet = true};
    if (mp_rm_rf(tmp, &e) != 0 || mp_mkdir_p(tmp, &e) != 0 || ml_xgb_train(&o, &e) != 0) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    return 0;
}

#endif
