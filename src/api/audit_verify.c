/* audit_verify.c — reading the audit log back: `mlplane audit verify` (the
 * chain and the signatures of every line, audit.c describes them) and `mlplane
 * audit log` (the entries, filtered).
 *
 * Threads: called by the CLI on its one thread; reads the file without the lock
 * (a line being appended is at worst seen incomplete at the very end). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"

/* Fills v's verdict for line n; returns 1 (bad). */
static int bad(api_audit_verdict *v, size_t n, const char *fmt, ...) MP_PRINTF(3, 4);
static int bad(api_audit_verdict *v, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->what, sizeof v->what, fmt, ap);
    va_end(ap);
    v->bad_line = n;
    return 1;
}

static bool is_hex64(const char *s) {
    if (!s || strlen(s) != 64) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

/* Checks line n (text of len bytes) after the line whose hash is prev; on success
 * prev becomes this line's hash. 0 good, 1 bad (v filled). */
static int check_line(const char *text, size_t len, size_t n, char prev[65], const unsigned char *pk,
                      api_audit_verdict *v) {
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bad(v, n, "not a JSON object (%s): the line was cut or edited", o ? "another JSON value" : je.text);
    }
    int rc = 0;
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *lprev = json_string_value(json_object_get(o, "prev"));
    const char *sig = json_string_value(json_object_get(o, "sig"));
    if (!is_hex64(hash)) rc = bad(v, n, "no valid \"hash\" (64 hex characters): the line was cut or edited");
    else if (!is_hex64(lprev)) rc = bad(v, n, "no valid \"prev\" (64 hex characters): the line was edited");
    else if (strcmp(lprev, prev) != 0)
        rc = bad(v, n,
                 n == 1 ? "its prev is not the start of a log (64 zeros): lines before it were removed"
                        : "its prev is not the hash of line %zu: a line was removed, inserted or moved before it",
                 n - 1);
    char want[65] = "";
    if (rc == 0) {
        json_t *c = json_deep_copy(o);
        json_object_del(c, "hash");
        json_object_del(c, "sig");
        char *canon = json_dumps(c, API_AUDIT_JSON_FLAGS);
        json_decref(c);
        api_audit_hash(prev, canon, strlen(canon), want);
        free(canon);
        if (strcmp(want, hash) != 0) rc = bad(v, n, "its hash does not match its content: the line was edited");
    }
    if (rc == 0 && pk) {
        unsigned char raw[32], s[crypto_sign_BYTES];
        size_t got = 0;
        if (!sig) rc = bad(v, n, "it carries no signature (\"sig\")");
        else if (sodium_hex2bin(s, sizeof s, sig, strlen(sig), NULL, &got, NULL) != 0 || got != sizeof s)
            rc = bad(v, n, "its signature is not %d hex characters", 2 * crypto_sign_BYTES);
        else {
            sodium_hex2bin(raw, sizeof raw, hash, 64, NULL, NULL, NULL);
            if (crypto_sign_verify_detached(s, raw, sizeof raw, pk) != 0)
                rc = bad(v, n, "its signature does not verify with this public key: signed by another key, or forged");
            else v->signed_lines++;
        }
    }
    if (rc == 0) memcpy(prev, hash, 65);
    json_decref(o);
    return rc;
}

int api_audit_verify(const char *path, const unsigned char *pk, api_audit_verdict *v, mp_err *e) {
    memset(v, 0, sizeof *v);
    char *text = NULL;
    size_t len = 0;
    if (!mp_path_exists(path)) return mp_err_set(e, MP_ENOENT, "no audit log at %s (the server writes it)", path);
    if (mp_read_file(path, &text, &len, e) != 0) return e->code;
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    size_t n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        n++;
        if (!nl) {
            bad(v, n, "it does not end in a newline: the log was cut");
            break;
        }
        if (le == p) {
            bad(v, n, "it is empty: a line was removed or the log was edited");
            break;
        }
        if (check_line(p, (size_t)(le - p), n, prev, pk, v) != 0) break;
        p = le + 1;
    }
    v->lines = n;
    memcpy(v->last_hash, prev, sizeof prev);
    free(text);
    return 0;
}

/* RFC 3339 "2026-12-07T15:19:10.123Z" of the entry, as ms (0 when unreadable). */
static int64_t entry_ms(const char *t) {
    struct tm tm = {0};
    int ms = 0;
    if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

int api_audit_entries(const char *path, const char *user, int64_t since_ms, json_t **out, mp_err *e) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    if (!mp_path_exists(path)) {
        *out = json_array(); /* nothing audited yet */
        return 0;
    }
    if (mp_read_file(path, &text, &len, e) != 0) return e->code;
    json_t *arr = json_array();
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        json_t *o = json_loadb(p, (size_t)(le - p), 0, NULL);
        p = le + (nl ? 1 : 0);
        if (!json_is_object(o)) {
            json_decref(o);
            continue;
        }
        const char *u = json_string_value(json_object_get(o, "user"));
        bool keep = !user || (u && strcmp(u, user) == 0);
        if (keep && since_ms > 0) keep = entry_ms(json_string_value(json_object_get(o, "time"))) >= since_ms;
        if (keep) json_array_append(arr, o);
        json_decref(o);
    }
    free(text);
    *out = arr;
    return 0;
}
