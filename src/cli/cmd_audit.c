/* cmd_audit.c — `mlplane audit verify|log|keygen`: the home's audit log
 * (HOME/audit/audit.log, written by mlplane server; src/api/audit.c) checked,
 * shown, and the Ed25519 key pair that signs it made. Single-threaded; reads
 * the file directly (no server needed). */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char audit_help[] =
    "Usage: mlplane audit verify [--public-key FILE] [--file PATH] [--home DIR]\n"
    "       mlplane audit log [--user U] [--since 1h|RFC3339] [-o table|json|yaml] [--file PATH] [--home DIR]\n"
    "       mlplane audit keygen --out FILE\n\n"
    "mlplane server appends one JSON line to HOME/audit/audit.log for every mutating\n"
    "request, every denied one (403) and every login failure (401): time, user, source\n"
    "address, method, verb, resource, namespace, name, status, result, request id. Each\n"
    "line carries the hash of the line before it (prev) and its own (hash), and a\n"
    "signature (sig) when the server runs with --audit-key.\n\n"
    "  verify             check every line's hash and its link to the line before; exit 1\n"
    "                     naming the first bad line (edited, removed, inserted, moved, cut)\n"
    "  --public-key FILE  verify: also check each line's Ed25519 signature with this key\n"
    "  log                print the entries (table, or every field with -o json|yaml)\n"
    "  --user U           log: only U's requests (\"\" for the anonymous ones)\n"
    "  --since D          log: only entries newer than D ago (30s, 15m, 1h, 7d) or than an\n"
    "                     RFC 3339 time (2026-12-07T15:00:00Z)\n"
    "  -o FORMAT          log: table (default), json or yaml\n"
    "  --file PATH        read this log file instead of the home's\n"
    "  keygen --out FILE  write a new key pair: FILE (signing key, mode 0600, for\n"
    "                     mlplane server --audit-key FILE) and FILE.pub (for verify)\n";

/* --since's value as ms since the epoch: a duration ago, or an RFC 3339 time. */
static int parse_since(const char *s, int64_t *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (end != s && v >= 0) {
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(end, units[i].unit) == 0) {
                *out = mp_now_ms() - (int64_t)(v * (double)units[i].ms);
                return 0;
            }
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest) {
        int64_t ms = 0;
        if (*rest == '.') {
            int64_t scale = 100;
            for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10) ms += (*rest - '0') * scale;
        }
        int64_t off = 0;
        if ((*rest == '+' || *rest == '-') && strlen(rest) == 6 && rest[3] == ':') {
            int hh = atoi(rest + 1), mm = atoi(rest + 4);
            off = (hh * 60 + mm) * 60000LL * (*rest == '-' ? -1 : 1);
            rest += 6;
        } else if (*rest == 'Z' || *rest == 'z') {
            rest++;
        }
        if (*rest == '\0') {
            *out = (int64_t)timegm(&tm) * 1000 + ms - off;
            return 0;
        }
    }
    return cli_fail(CLI_USAGE, "--since expects a duration (30s, 15m, 1h, 7d) or an RFC 3339 time "
                               "(2026-12-07T15:00:00Z), got \"%s\"",
                    s);
}

/* The log to read: --file, else HOME/audit/audit.log (heap). */
static char *log_path(cli_env *env, const char *home_flag, const char *file) {
    if (file) return mp_xstrdup(file);
    char *home = NULL;
    mp_err e;
    if (store_home_path(home_flag ? home_flag : env->home_flag, &home, &e) != 0) {
        cli_fail_err(&e);
        return NULL;
    }
    char *p = api_audit_path(home);
    free(home);
    return p;
}

static int audit_verify(const char *path, const char *pub) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    mp_err e;
    if (pub && api_audit_read_public_key(pub, pk, &e) != 0) return cli_fail_err(&e);
    api_audit_verdict v;
    if (api_audit_verify(path, pub ? pk : NULL, &v, &e) != 0) return cli_fail(CLI_FAILED, "%s", e.msg);
    if (v.bad_line) {
        fprintf(stderr, "mlplane: %s:%zu: line %zu is bad: %s\n", path, v.bad_line, v.bad_line, v.what);
        if (v.bad_line > 1) fprintf(stderr, "lines 1-%zu verified\n", v.bad_line - 1);
        return CLI_FAILED;
    }
    printf("%zu line%s verified%s, last hash %s\n", v.lines, v.lines == 1 ? "" : "s",
           pub ? ", every one signed by this key" : " (signatures not checked: no --public-key)", v.last_hash);
    return CLI_OK;
}

static int audit_log(const char *path, const char *user, int64_t since, cli_out out) {
    json_t *arr = NULL;
    mp_err e;
    if (api_audit_entries(path, user, since, &arr, &e) != 0) return cli_fail(CLI_FAILED, "%s", e.msg);
    if (out != OUT_TABLE) {
        int rc = cli_print_json(arr, out);
        json_decref(arr);
        return rc;
    }
    static const char *const header[] = {"TIME", "USER", "SOURCE", "VERB", "RESOURCE", "NAMESPACE", "NAME", "RESULT", "STATUS",
                                         "REQUEST-ID"};
    static const char *const keys[] = {"time", "user", "source", "verb", "resource", "namespace", "name", "result", NULL,
                                       "request_id"};
    cli_table t;
    cli_table_init(&t, 10, header);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char status[16];
        snprintf(status, sizeof status, "%lld", (long long)json_integer_value(json_object_get(o, "status")));
        const char *row[10];
        for (size_t k = 0; k < 10; k++) {
            const char *v = keys[k] ? cli_jstr(o, keys[k], "") : status;
            row[k] = *v ? v : (k == 1 ? "(anonymous)" : "-");
        }
        cli_table_add(&t, row);
    }
    if (json_array_size(arr) == 0) printf("no audit entries\n");
    else cli_table_print(&t, stdout);
    cli_table_free(&t);
    json_decref(arr);
    return CLI_OK;
}

int cmd_audit(cli_env *env, int argc, char **argv) {
    static const struct option longs[] = {{"public-key", required_argument, 0, 'k'}, {"file", required_argument, 0, 'f'},
                                          {"home", required_argument, 0, 'H'},       {"user", required_argument, 0, 'u'},
                                          {"since", required_argument, 0, 's'},      {"output", required_argument, 0, 'o'},
                                          {"out", required_argument, 0, 'O'},        {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    if (cli_wants_help(argc, argv)) {
        fputs(audit_help, stdout);
        return CLI_OK;
    }
    if (argc < 2) return cli_fail(CLI_USAGE, "usage: mlplane audit verify|log|keygen (see mlplane audit --help)");
    const char *sub = argv[1];
    const char *pub = NULL, *file = NULL, *home_flag = NULL, *user = NULL, *keyout = NULL;
    int64_t since = 0;
    cli_out out = OUT_TABLE;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'k': pub = optarg; break;
        case 'f': file = optarg; break;
        case 'H': home_flag = optarg; break;
        case 'u': user = optarg; break;
        case 's':
            if (parse_since(optarg, &since) != 0) return CLI_USAGE;
            break;
        case 'o':
            if (cli_parse_out(optarg, &out) != 0) return CLI_USAGE;
            break;
        case 'O': keyout = optarg; break;
        default: return cli_fail(CLI_USAGE, "unknown or incomplete option %s (see mlplane audit --help)", argv[optind]);
        }
    }
    if (optind + 1 < argc) return cli_fail(CLI_USAGE, "audit %s takes no arguments, got \"%s\"", sub, argv[optind + 1]);
    if (strcmp(sub, "keygen") == 0) {
        if (!keyout) return cli_fail(CLI_USAGE, "usage: mlplane audit keygen --out FILE");
        char *pubp = NULL;
        mp_err e;
        if (api_audit_keygen(keyout, &pubp, &e) != 0) return cli_fail_err(&e);
        printf("wrote %s (signing key: mlplane server --audit-key %s)\nwrote %s (public key: mlplane audit verify "
               "--public-key %s)\n",
               keyout, keyout, pubp, pubp);
        free(pubp);
        return CLI_OK;
    }
    bool verify = strcmp(sub, "verify") == 0;
    if (!verify && strcmp(sub, "log") != 0)
        return cli_fail(CLI_USAGE, "unknown audit command \"%s\": verify, log or keygen (see mlplane audit --help)", sub);
    char *path = log_path(env, home_flag, file);
    if (!path) return CLI_FAILED;
    int rc = verify ? audit_verify(path, pub) : audit_log(path, user, since, out);
    free(path);
    return rc;
}
