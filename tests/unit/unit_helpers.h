/* unit_helpers.h — what the unit tests that touch files share: a fresh scratch
 * folder under $MLPLANE_TEST_TMP (ctest sets it; /tmp otherwise) and, for those
 * that include store/store.h first, a real SQLite store in such a folder.
 * Included after cmocka.h and the headers under test. Single-threaded. */
#ifndef MLPLANE_TEST_UNIT_HELPERS_H
#define MLPLANE_TEST_UNIT_HELPERS_H

#include <stdlib.h>

#include "util/util.h"

/* A new empty folder $MLPLANE_TEST_TMP/PREFIX-XXXXXX (heap; the caller frees it
 * and removes it with mp_rm_rf). */
static inline char *ut_scratch_dir(const char *prefix) {
    const char *base = getenv("MLPLANE_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    assert_int_equal(mp_mkdir_p(base, NULL), 0);
    char *dir = mp_xasprintf("%s/%s-XXXXXX", base, prefix);
    assert_non_null(mkdtemp(dir));
    return dir;
}

#ifdef MLPLANE_STORE_H
/* Opens (creating it) the SQLite store PATH, failing the test with the store's
 * message when it cannot. The caller closes it (s->m->close). */
static inline store *ut_store_open(const char *path) {
    store *s = NULL;
    mp_err e = {0};
    if (store_sqlite_open(path, &s, &e) != 0) fail_msg("open %s: %s", path, e.msg);
    return s;
}

/* The store DIR/mlplane.db, as a home holds it. */
static inline store *ut_store_in(const char *dir) {
    char *path = mp_xasprintf("%s/mlplane.db", dir);
    store *s = ut_store_open(path);
    free(path);
    return s;
}

/* A cmocka fixture of a fresh store: ut_fx_setup(state, PREFIX) makes a scratch
 * folder and opens DIR/mlplane.db in it; ut_fx_teardown closes and removes both. */
typedef struct ut_fx {
    char *dir;
    char *path;
    store *s;
} ut_fx;

static inline int ut_fx_setup(void **state, const char *prefix) {
    ut_fx *f = mp_xcalloc(1, sizeof *f);
    f->dir = ut_scratch_dir(prefix);
    f->path = mp_xasprintf("%s/mlplane.db", f->dir);
    f->s = ut_store_open(f->path);
    *state = f;
    return 0;
}

static inline int ut_fx_teardown(void **state) {
    ut_fx *f = *state;
    if (f->s) f->s->m->close(f->s);
    mp_rm_rf(f->dir, NULL);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}
#endif

#endif
