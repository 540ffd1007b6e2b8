/* spec_helpers.h — what the spec unit tests share: fixture paths, loading a spec
 * that must succeed or fail, and asserting a diagnostic at a line:col. Included
 * by tests/unit/test_spec*.c after cmocka.h and spec/spec.h. */
#ifndef MLPLANE_TEST_SPEC_HELPERS_H
#define MLPLANE_TEST_SPEC_HELPERS_H

static char *fixture(const char *name) {
    const char *src = getenv("MLPLANE_SRC");
    return mp_xasprintf("%s/tests/specs/%s", src ? src : ".", name);
}

static void dump(const spec_diags *d) {
    mp_buf b;
    mp_buf_init(&b);
    spec_diags_format(d, &b);
    print_message("diagnostics:\n%s", b.data);
    mp_buf_free(&b);
}

static spec_file *load_ok(const char *yaml) {
    spec_diags d = {0};
    spec_file *f = NULL;
    int rc = spec_load_string("t.yaml", "/tmp", yaml, strlen(yaml), &f, &d);
    if (rc != 0) dump(&d);
    assert_int_equal(rc, 0);
    assert_non_null(f);
    assert_int_equal(d.n, 0);
    spec_diags_free(&d);
    return f;
}

static spec_diags load_bad(const char *yaml) {
    spec_diags d = {0};
    spec_file *f = (spec_file *)1;
    int rc = spec_load_string("t.yaml", "/tmp", yaml, strlen(yaml), &f, &d);
    assert_int_equal(rc, MP_EINVAL);
    assert_null(f);
    assert_true(d.n > 0);
    return d;
}

/* Asserts a diagnostic at line:col whose message holds every given word (NULL ends). */
static void expect_diag(const spec_diags *d, int line, int col, ...) {
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].pos.line != line || d->v[i].pos.col != col) continue;
        va_list ap;
        va_start(ap, col);
        bool all = true;
        for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
            if (!strstr(d->v[i].msg, w)) all = false;
        va_end(ap);
        if (all) return;
    }
    print_message("expected a diagnostic at %d:%d\n", line, col);
    dump(d);
    fail();
}

/* Loads yaml expecting exactly one diagnostic, at line:col with the words. */
#define EXPECT_ONE(yaml, line, col, ...)                                                                               \
    do {                                                                                                               \
        spec_diags d_ = load_bad(yaml);                                                                                \
        if (d_.n != 1) dump(&d_);                                                                                      \
        assert_int_equal(d_.n, 1);                                                                                     \
        expect_diag(&d_, line, col, __VA_ARGS__, NULL);                                                                \
        spec_diags_free(&d_);                                                                                          \
    } while (0)

#endif
