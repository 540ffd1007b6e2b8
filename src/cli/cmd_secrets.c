/* cmd_secrets.c — applied Secrets seen from the home, never their values:
 * `get secrets` (namespace, name, number of keys, when applied), `describe
 * secret [NAMESPACE/]NAME` (each key with its size and the id of the key that
 * encrypted it), and `secrets rotate-key --new-key-file FILE`, which re-encrypts
 * every value from the usual key (--secret-key-file, MLPLANE_SECRET_KEY_FILE,
 * MLPLANE_SECRET_KEY) to the new one in one transaction. Single-threaded. */
#include "cli/cli.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The JSON of every applied Secret (namespace and name NULL), or of one. */
static int secrets_json(cli_env *env, const char *home_flag, const char *ns, const char *name, json_t **out) {
    *out = NULL;
    char *home = NULL;
    store *st = NULL;
    if (cli_open_store_existing(env, home_flag, &home, &st)) return CLI_FAILED;
    store_object *objs = NULL;
    size_t nobjs = 0, nv = 0;
    store_secret_value *v = NULL;
    mp_err e = {0};
    int status = CLI_OK;
    if (st->o->object_list(st, &objs, &nobjs, &e) != 0 || st->o->secret_list(st, NULL, NULL, &v, &nv, &e) != 0)
        status = cli_fail_err(&e);
    json_t *arr = json_array();
    for (size_t i = 0; status == CLI_OK && i < nobjs; i++) {
        const store_object *o = &objs[i];
        if (strcmp(o->kind, "Secret") != 0) continue;
        if (name && (strcmp(o->name, name) != 0 || strcmp(o->namespace_, ns) != 0)) continue;
        json_t *keys = json_array();
        for (size_t k = 0; k < nv; k++) {
            if (strcmp(v[k].namespace_, o->namespace_) != 0 || strcmp(v[k].name, o->name) != 0) continue;
            size_t size = v[k].ct_len >= crypto_aead_xchacha20poly1305_ietf_ABYTES
                              ? v[k].ct_len - crypto_aead_xchacha20poly1305_ietf_ABYTES
                              : 0;
            json_array_append_new(keys, json_pack("{s:s,s:I,s:s}", "key", v[k].key, "size", (json_int_t)size,
                                                  "keyId", v[k].key_id));
        }
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:o}", "namespace", o->namespace_, "name", o->name,
                                             "appliedMs", (json_int_t)o->applied_ms, "keys", keys));
    }
    store_object_array_free(objs, nobjs);
    store_secret_value_array_free(v, nv);
    st->m->close(st);
    free(home);
    if (status == CLI_OK && name && json_array_size(arr) == 0)
        status = cli_fail(CLI_FAILED, "secret \"%s\" is not applied in namespace \"%s\"", name, ns);
    if (status == CLI_OK) *out = arr;
    else json_decref(arr);
    return status;
}

static void age(int64_t ms, char *buf, size_t n) {
    int64_t s = (mp_now_ms() - ms) / 1000;
    if (s < 0) s = 0;
    if (s < 120) snprintf(buf, n, "%llds", (long long)s);
    else if (s < 7200) snprintf(buf, n, "%lldm", (long long)(s / 60));
    else if (s < 172800) snprintf(buf, n, "%lldh", (long long)(s / 3600));
    else snprintf(buf, n, "%lldd", (long long)(s / 86400));
}

int cli_get_secrets(cli_env *env, const char *home_flag, cli_out out) {
    json_t *arr = NULL;
    int status = secrets_json(env, home_flag, NULL, NULL, &arr);
    if (status) return status;
    if (out != OUT_TABLE) {
        status = cli_print_json(arr, out);
    } else {
        static const char *const hdr[] = {"NAMESPACE", "NAME", "KEYS", "AGE"};
        cli_table t;
        cli_table_init(&t, 4, hdr);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            char n[16], a[32];
            snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(o, "keys")));
            age(json_integer_value(json_object_get(o, "appliedMs")), a, sizeof a);
            const char *row[] = {cli_jstr(o, "namespace", ""), cli_jstr(o, "name", ""), n, a};
            cli_table_add(&t, row);
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
    json_decref(arr);
    return status;
}

int cli_describe_secret(cli_env *env, const char *home_flag, const char *ref, cli_out out) {
    const char *slash = strchr(ref, '/');
    char *ns = slash ? mp_xstrndup(ref, (size_t)(slash - ref)) : mp_xstrdup("default");
    const char *name = slash ? slash + 1 : ref;
    json_t *arr = NULL;
    int status = secrets_json(env, home_flag, ns, name, &arr);
    free(ns);
    if (status) return status;
    json_t *o = json_array_get(arr, 0);
    if (out != OUT_TABLE) {
        status = cli_print_json(o, out);
    } else {
        printf("Name:       %s\nNamespace:  %s\n", cli_jstr(o, "name", ""), cli_jstr(o, "namespace", ""));
        char a[32];
        age(json_integer_value(json_object_get(o, "appliedMs")), a, sizeof a);
        printf("Applied:    %s ago\n\nData (values encrypted at rest, never shown)\n", a);
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(o, "keys"), i, k) {
            printf("  %s:  %lld bytes  (key id %s)\n", cli_jstr(k, "key", ""),
                   (long long)json_integer_value(json_object_get(k, "size")), cli_jstr(k, "keyId", ""));
        }
    }
    json_decref(arr);
    return status;
}

static const char secrets_help[] =
    "Usage: mlplane secrets rotate-key --new-key-file FILE [--home DIR]\n\n"
    "Re-encrypts the value of every applied Secret of the home with the key in FILE, in\n"
    "one transaction: nothing changes when one value does not decrypt. The current key is\n"
    "read as everywhere else (--secret-key-file FILE, MLPLANE_SECRET_KEY_FILE or\n"
    "MLPLANE_SECRET_KEY). Afterwards give mlplane the new key: the old one is refused.\n"
    "A key is 32 bytes written as 64 hex digits or base64, in a file only its owner\n"
    "may read (make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE).\n";

int cmd_secrets(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(secrets_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {
        {"new-key-file", required_argument, 0, 'k'}, {"home", required_argument, 0, 'H'}, {0, 0, 0, 0}};
    const char *new_file = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'k') new_file = optarg;
        else if (c == 'H') env->home_flag = optarg;
        else return cli_fail(CLI_USAGE, "secrets: unknown or incomplete option %s (see mlplane secrets --help)",
                             argv[optind - 1]);
    }
    if (argc - optind != 1 || strcmp(argv[optind], "rotate-key") != 0 || !new_file)
        return cli_fail(CLI_USAGE, "usage: mlplane secrets rotate-key --new-key-file FILE");
    if (env->server) return cli_not_remote(env, "secrets rotate-key");
    store_secret_key old, nk;
    mp_err e = {0};
    if (store_secret_key_load(NULL, &old, &e) != 0)
        return cli_fail(CLI_USAGE, "secrets rotate-key: the current key: %s", e.msg);
    if (store_secret_key_load(new_file, &nk, &e) != 0) {
        store_secret_wipe_key(&old);
        return cli_fail(CLI_USAGE, "secrets rotate-key: the new key: %s", e.msg);
    }
    char *home = NULL;
    store *st = NULL;
    int status = CLI_OK;
    size_t n = 0;
    if (cli_open_store_existing(env, NULL, &home, &st)) status = CLI_FAILED;
    else if (store_secrets_rotate(st, &old, &nk, &n, &e) != 0) status = cli_fail_err(&e);
    else printf("%zu secret value%s re-encrypted from key id %s to key id %s\n", n, n == 1 ? "" : "s", old.id, nk.id);
    if (st) st->m->close(st);
    free(home);
    store_secret_wipe_key(&old);
    store_secret_wipe_key(&nk);
    return status;
}
