/* test_tokens.c — unit tests of the store's API tokens and users (tokens.c):
 * the token's shape, verification (wrong secret, malformed, unknown, revoked,
 * expired at a given time), the last use written at most once a minute, only a
 * hash stored, users' Argon2id passwords; and api_parse_ttl. Each test works in
 * its own directory under $MLPLANE_TEST_TMP. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"
#include "unit_helpers.h"

typedef ut_fx fx;

static int setup(void **state) { return ut_fx_setup(state, "tokens"); }
static int teardown(void **state) { return ut_fx_teardown(state); }

static char *make(store *s, const char *user, int64_t expires_ms, store_token *out) {
    store_token in = {.user = (char *)user, .namespace_ = "team-a", .groups = "g1,g2", .expires_ms = expires_ms};
    char *token = NULL;
    mp_err e = {0};
    assert_int_equal(s->a->token_create(s, &in, &token, out, &e), 0);
    return token;
}

static void test_shape_and_verify(void **state) {
    fx *f = *state;
    store_token row, got;
    char *t = make(f->s, "ana", 0, &row);
    assert_int_equal(strlen(t), 81);
    assert_memory_equal(t, "mlp_", 4);
    assert_memory_equal(t + 4, row.id, 12);
    assert_int_equal(t[16], '_');
    assert_string_equal(row.namespace_, "team-a");
    assert_string_equal(row.groups, "g1,g2");
    mp_err e = {0};
    int64_t now = mp_now_ms();
    assert_int_equal(f->s->a->token_verify(f->s, t, now, &got, &e), 0);
    assert_string_equal(got.user, "ana");
    assert_int_equal(got.last_used_ms, now);
    store_token_free(&got);

    char *bad = mp_xstrdup(t);
    bad[80] = bad[80] == '0' ? '1' : '0';
    assert_int_equal(f->s->a->token_verify(f->s, bad, now, &got, &e), MP_EPERM);
    assert_non_null(strstr(e.msg, "does not match"));
    assert_null(strstr(e.msg, t + 17)); /* the secret is never in a message */
    bad[5] = bad[5] == '0' ? '1' : '0';
    assert_int_equal(f->s->a->token_verify(f->s, bad, now, &got, &e), MP_EPERM);
    assert_non_null(strstr(e.msg, "unknown token"));
    assert_int_equal(f->s->a->token_verify(f->s, "mlp_short", now, &got, &e), MP_EPERM);
    assert_int_equal(f->s->a->token_verify(f->s, "", now, &got, &e), MP_EPERM);
    free(bad);

    /* only the hash is stored */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM api_tokens WHERE instr(secret_hash, ?1) > 0 "
                                            "OR instr(description, ?1) > 0",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, t + 17, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    store_token_free(&row);
    free(t);
}

static void test_last_used_once_a_minute(void **state) {
    fx *f = *state;
    store_token row, got;
    char *t = make(f->s, "ana", 0, &row);
    mp_err e = {0};
    int64_t t0 = 1800000000000;
    assert_int_equal(f->s->a->token_verify(f->s, t, t0, &got, &e), 0);
    store_token_free(&got);
    assert_int_equal(f->s->a->token_verify(f->s, t, t0 + 30000, &got, &e), 0);
    store_token_free(&got);
    assert_int_equal(f->s->a->token_get(f->s, row.id, &got, &e), 0);
    assert_int_equal(got.last_used_ms, t0); /* not written again within the minute */
    store_token_free(&got);
    assert_int_equal(f->s->a->token_verify(f->s, t, t0 + 61000, &got, &e), 0);
    store_token_free(&got);
    assert_int_equal(f->s->a->token_get(f->s, row.id, &got, &e), 0);
    assert_int_equal(got.last_used_ms, t0 + 61000);
    store_token_free(&got);
    store_token_free(&row);
    free(t);
}

static void test_revoked_and_expired(void **state) {
    fx *f = *state;
    store_token row, got;
    int64_t now = mp_now_ms();
    char *t = make(f->s, "ana", now + 1000, &row);
    mp_err e = {0};
    assert_int_equal(f->s->a->token_verify(f->s, t, now, &got, &e), 0);
    store_token_free(&got);
    assert_int_equal(f->s->a->token_verify(f->s, t, now + 1000, &got, &e), MP_EPERM);
    assert_non_null(strstr(e.msg, "expired at"));
    char *t2 = make(f->s, "bob", 0, &got);
    assert_int_equal(f->s->a->token_revoke(f->s, got.id, &e), 0);
    assert_int_equal(f->s->a->token_revoke(f->s, got.id, &e), 0); /* again: no change */
    store_token_free(&got);
    assert_int_equal(f->s->a->token_verify(f->s, t2, now, &got, &e), MP_EPERM);
    assert_non_null(strstr(e.msg, "was revoked"));
    assert_int_equal(f->s->a->token_revoke(f->s, "000000000000", &e), MP_ENOENT);
    store_token *v = NULL;
    size_t n = 0;
    assert_int_equal(f->s->a->token_list(f->s, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    store_token_array_free(v, n);
    store_token_free(&row);
    free(t);
    free(t2);
}

static void test_users(void **state) {
    fx *f = *state;
    mp_err e = {0};
    store_user u;
    assert_int_equal(f->s->a->user_create(f->s, "carl", "pw-1", false, &e), 0);
    assert_int_equal(f->s->a->user_create(f->s, "carl", "pw-1", false, &e), MP_EEXIST);
    assert_int_equal(f->s->a->user_verify(f->s, "carl", "pw-1", &u, &e), 0);
    assert_false(u.admin);
    assert_true(u.has_password);
    store_user_free(&u);
    assert_int_equal(f->s->a->user_verify(f->s, "carl", "pw-2", &u, &e), MP_EPERM);
    assert_int_equal(f->s->a->user_verify(f->s, "nobody", "pw-1", &u, &e), MP_EPERM);
    assert_int_equal(f->s->a->user_set_password(f->s, "carl", "pw-2", &e), 0);
    assert_int_equal(f->s->a->user_verify(f->s, "carl", "pw-1", &u, &e), MP_EPERM);
    assert_int_equal(f->s->a->user_verify(f->s, "carl", "pw-2", &u, &e), 0);
    store_user_free(&u);
    assert_int_equal(f->s->a->user_set_admin(f->s, "carl", true, &e), 0);
    assert_int_equal(f->s->a->user_get(f->s, "carl", &u, &e), 0);
    assert_true(u.admin);
    store_user_free(&u);
    assert_int_equal(f->s->a->user_create(f->s, "nopw", NULL, false, &e), 0);
    assert_int_equal(f->s->a->user_verify(f->s, "nopw", "", &u, &e), MP_EPERM);
    assert_int_equal(f->s->a->user_set_password(f->s, "ghost", "x", &e), MP_ENOENT);
    assert_int_equal(f->s->a->user_delete(f->s, "carl", &e), 0);
    assert_int_equal(f->s->a->user_delete(f->s, "carl", &e), MP_ENOENT);
}

static void test_parse_ttl(void **state) {
    (void)state;
    int64_t ms = -1;
    mp_err e = {0};
    assert_int_equal(api_parse_ttl("30d", &ms, &e), 0);
    assert_int_equal(ms, 30LL * 86400000);
    assert_int_equal(api_parse_ttl("90m", &ms, &e), 0);
    assert_int_equal(ms, 90LL * 60000);
    assert_int_equal(api_parse_ttl("never", &ms, &e), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(api_parse_ttl(NULL, &ms, &e), 0);
    assert_int_equal(api_parse_ttl("30", &ms, &e), MP_EINVAL);
    assert_int_equal(api_parse_ttl("-1d", &ms, &e), MP_EINVAL);
    assert_int_equal(api_parse_ttl("d", &ms, &e), MP_EINVAL);
    assert_int_equal(api_parse_ttl("1y", &ms, &e), MP_EINVAL);
}

int main(void) {
    mp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shape_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used_once_a_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_and_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test(test_parse_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
