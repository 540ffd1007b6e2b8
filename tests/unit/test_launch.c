/* test_launch.c — unit tests of the step launcher's pure parts (src/exec/
 * launch_desc.c, launch_tree.c): the artifacts description as `mlplane k8s
 * render` writes it and every malformed one refused with its field, paths moved
 * under the work folder and kept inside it, record paths, retry pauses, exit
 * statuses; trees: the tree hash equal to the step cache's (mp_hash_path) for a
 * file and a folder, chunks cut at the size asked and each named by its
 * SHA-256, manifests' shapes checked. Real files under $MLPLANE_TEST_TMP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/launch_int.h"

static const char *GOOD =
    "{\"inputs\":[{\"name\":\"data\",\"path\":\"../data/x.csv\",\"sha256\":"
    "\"91db232ee6537379557f7c39a2829acf33f521a3d2740bc330dda4b70a1b4d2c\"},"
    "{\"name\":\"f\",\"from\":\"/mlplane/work/steps/prep/feats\"}],"
    "\"fetch\":[{\"step\":\"prep\",\"output\":\"feats\",\"path\":\"/mlplane/work/steps/prep/feats\"}],"
    "\"outputs\":[{\"name\":\"model\",\"path\":\"out/model.json\"}],\"metrics\":\"metrics.json\"}";

static void desc_good(void **state) {
    (void)state;
    launch_desc d;
    mp_err e;
    assert_int_equal(exec__launch_desc_parse(GOOD, "/w", &d, &e), 0);
    assert_int_equal(d.ninputs, 2);
    assert_string_equal(d.inputs[0].name, "data");
    assert_string_equal(d.inputs[0].sha256, "91db232ee6537379557f7c39a2829acf33f521a3d2740bc330dda4b70a1b4d2c");
    assert_null(d.inputs[0].from);
    assert_string_equal(d.inputs[1].from, "/w/steps/prep/feats");
    assert_null(d.inputs[1].sha256);
    assert_int_equal(d.nfetch, 1);
    assert_string_equal(d.fetch[0].step, "prep");
    assert_string_equal(d.fetch[0].output, "feats");
    assert_string_equal(d.fetch[0].path, "/w/steps/prep/feats");
    assert_int_equal(d.noutputs, 1);
    assert_string_equal(d.outputs[0].path, "out/model.json");
    assert_string_equal(d.metrics, "metrics.json");
    exec__launch_desc_free(&d);
    /* lists may be absent: nothing to fetch or upload */
    assert_int_equal(exec__launch_desc_parse("{}", "/w", &d, &e), 0);
    assert_int_equal(d.ninputs + d.nfetch + d.noutputs, 0);
    assert_null(d.metrics);
    exec__launch_desc_free(&d);
}

static void expect_bad(const char *json, const char *msg) {
    launch_desc d;
    mp_err e;
    mp_err_clear(&e);
    assert_int_equal(exec__launch_desc_parse(json, "/w", &d, &e), MP_EINVAL);
    if (!strstr(e.msg, msg)) fail_msg("'%s' not in: %s", msg, e.msg);
    exec__launch_desc_free(&d);
}

static void desc_bad(void **state) {
    (void)state;
    expect_bad(NULL, "MLPLANE_ARTIFACTS is not set");
    expect_bad("{", "MLPLANE_ARTIFACTS: not a JSON object (line 1");
    expect_bad("[1]", "not a JSON object");
    expect_bad("{\"inputs\": 3}", "MLPLANE_ARTIFACTS: inputs: not a list");
    expect_bad("{\"inputs\": [{\"sha256\": \"x\"}]}", "inputs[0].name: missing or not a string");
    expect_bad("{\"inputs\": [{\"name\": \"../x\", \"sha256\": \"x\"}]}", "inputs[0].name \"../x\" is not a file name");
    expect_bad("{\"inputs\": [{\"name\": \"x\"}]}", "inputs[0].sha256: missing");
    expect_bad("{\"inputs\": [{\"name\": \"x\", \"sha256\": \"ABC\"}]}", "inputs[0].sha256 \"ABC\" is not a SHA-256");
    expect_bad("{\"inputs\": [{\"name\": \"x\", \"from\": \"/etc/passwd\"}]}", "inputs[0].from \"/etc/passwd\" is not under /mlplane/work");
    expect_bad("{\"fetch\": [{\"step\": \"s\", \"output\": \"o\"}]}", "fetch[0].path: missing");
    expect_bad("{\"fetch\": [{\"step\": \"s\", \"output\": \"o\", \"path\": \"/mlplane/work/../etc\"}]}",
               "fetch[0].path \"/mlplane/work/../etc\" is not under /mlplane/work");
    expect_bad("{\"fetch\": [{\"step\": \"a/b\", \"output\": \"o\", \"path\": \"/mlplane/work/x\"}]}", "must be names");
    expect_bad("{\"outputs\": [{\"name\": \"m\", \"path\": \"/abs\"}]}", "outputs[0].path \"/abs\" must be relative");
    expect_bad("{\"outputs\": [{\"name\": \"m\", \"path\": \"a/../../b\"}]}", "must be relative to the outputs folder");
    expect_bad("{\"metrics\": 4}", "metrics must be a path relative");
}

static void paths(void **state) {
    (void)state;
    char *p = exec__launch_map("/mlplane/work", "/w");
    assert_string_equal(p, "/w");
    free(p);
    p = exec__launch_map("/mlplane/work/inputs/x", "/tmp/w");
    assert_string_equal(p, "/tmp/w/inputs/x");
    free(p);
    assert_null(exec__launch_map("/mlplane/workshop/x", "/w"));
    assert_null(exec__launch_map("/mlplane/work/./x", "/w"));
    assert_null(exec__launch_map("/mlplane/work/a/", "/w"));
    assert_null(exec__launch_map("relative", "/w"));
    assert_true(exec__launch_safe_rel("a/b.c"));
    assert_false(exec__launch_safe_rel(""));
    assert_false(exec__launch_safe_rel("a//b"));
    assert_false(exec__launch_safe_rel(".."));
    assert_false(exec__launch_safe_rel("/a"));
    p = exec__launch_step_path("r1", "train", NULL, "outputs/m.json");
    assert_string_equal(p, "mlplane/runs/r1/steps/train/outputs/m.json");
    free(p);
    p = exec__launch_step_path("r1", "train", "3", "launch.json");
    assert_string_equal(p, "mlplane/runs/r1/steps/train/trials/3/launch.json");
    free(p);
    assert_null(exec__launch_step_path("../r", "s", NULL, "x"));
    assert_null(exec__launch_step_path("r", "a/b", NULL, "x"));
    p = exec__tree_manifest_path("abcdef");
    assert_string_equal(p, "mlplane/trees/ab/abcdef.json");
    free(p);
}

static void retries_and_status(void **state) {
    (void)state;
    assert_int_equal(exec__launch_backoff_ms(1), 250);
    assert_int_equal(exec__launch_backoff_ms(2), 500);
    assert_int_equal(exec__launch_backoff_ms(5), 4000);
    assert_int_equal(exec__launch_backoff_ms(6), 8000);
    assert_int_equal(exec__launch_backoff_ms(40), 8000);
    assert_true(exec__launch_transient(0));
    assert_true(exec__launch_transient(503));
    assert_true(exec__launch_transient(429));
    assert_false(exec__launch_transient(200));
    assert_false(exec__launch_transient(404));
    assert_false(exec__launch_transient(400));
    int st;
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(exec__launch_exit_status(st), 7);
    pid = fork();
    if (pid == 0) {
        raise(SIGKILL);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(exec__launch_exit_status(st), 128 + SIGKILL);
}

/* ---- trees ------------------------------------------------------------------------------ */

static char *tmpdir(void) {
    const char *base = getenv("MLPLANE_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    assert_int_equal(mp_mkdir_p(base, NULL), 0);
    char *d = mp_xasprintf("%s/launch-XXXXXX", base);
    assert_non_null(mkdtemp(d));
    return d;
}

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

typedef struct chunks {
    int n;
    size_t bytes;
    char first[65];
} chunks;

static int count_chunk(void *ud, const char *hex, const void *data, size_t len, mp_err *e) {
    (void)e;
    chunks *c = ud;
    if (c->n++ == 0) memcpy(c->first, hex, 65);
    c->bytes += len;
    if (data) { /* each chunk is named by the SHA-256 of its bytes */
        mp_hash h;
        char got[65];
        mp_hash_init(&h);
        mp_hash_bytes(&h, data, len);
        mp_hash_final_hex(&h, got);
        assert_string_equal(got, hex);
    }
    return 0;
}

static void cache_hash(const char *path, char hex[65]) {
    mp_hash h;
    mp_hash_init(&h);
    assert_int_equal(mp_hash_path(&h, path, NULL), 0);
    mp_hash_final_hex(&h, hex);
}

static void tree_hashes(void **state) {
    (void)state;
    char *d = tmpdir();
    char *sub = mp_xasprintf("%s/t/b", d), *empty = mp_xasprintf("%s/t/a-empty", d);
    assert_int_equal(mp_mkdir_p(sub, NULL), 0);
    assert_int_equal(mp_mkdir_p(empty, NULL), 0);
    char *f1 = mp_xasprintf("%s/t/z.txt", d), *f2 = mp_xasprintf("%s/t/b/c.txt", d), *f3 = mp_xasprintf("%s/t/b/0", d);
    put(f1, "hello, world\n");
    put(f2, "0123456789abcdefghij"); /* 20 bytes: 3 chunks of 8 */
    put(f3, "");
    chmod(f2, 0755);
    char *root = mp_xasprintf("%s/t", d);
    json_t *m = NULL;
    char tree[65], want[65];
    chunks c = {0};
    mp_err e;
    assert_int_equal(exec__tree_build(root, 8, count_chunk, &c, &m, tree, &e), 0);
    cache_hash(root, want);
    assert_string_equal(tree, want);
    assert_int_equal(exec__tree_check(m, &e), 0);
    assert_string_equal(json_string_value(json_object_get(m, "kind")), "dir");
    assert_int_equal(json_integer_value(json_object_get(m, "size")), 33);
    json_t *ents = json_object_get(m, "entries");
    /* the root, then name order with a folder before what it holds */
    const char *order[] = {"", "a-empty", "b", "b/0", "b/c.txt", "z.txt"};
    assert_int_equal(json_array_size(ents), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ents, i), "path")), order[i]);
    json_t *ct = json_array_get(ents, 4);
    assert_int_equal(json_array_size(json_object_get(ct, "chunks")), 3);
    assert_true(json_is_true(json_object_get(ct, "executable")));
    assert_int_equal(json_array_size(json_object_get(json_array_get(ents, 3), "chunks")), 0); /* an empty file */
    assert_int_equal(c.n, 3 + 2);
    assert_int_equal(c.bytes, 33);
    json_decref(m);
    /* a whole-file manifest (as submit writes it): the same tree hash, one chunk a file */
    char *text = NULL, tree2[65];
    assert_int_equal(exec_tree_manifest(root, &text, tree2, &e), 0);
    assert_string_equal(tree2, want);
    m = json_loads(text, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(m, "entries"), 4), "chunks")), 1);
    json_decref(m);
    free(text);
    /* a single file */
    c = (chunks){0};
    assert_int_equal(exec__tree_build(f1, 0, count_chunk, &c, &m, tree, &e), 0);
    cache_hash(f1, want);
    assert_string_equal(tree, want);
    assert_int_equal(c.n, 1);
    mp_hash h;
    char plain[65];
    mp_hash_init(&h);
    mp_hash_bytes(&h, "hello, world\n", 13);
    mp_hash_final_hex(&h, plain);
    assert_string_equal(c.first, plain); /* the blob is the file's plain SHA-256 */
    assert_string_not_equal(tree, plain); /* the tree hash is the cache's, not sha256sum's */
    assert_string_equal(json_string_value(json_object_get(m, "kind")), "file");
    json_decref(m);
    /* missing */
    assert_int_equal(exec__tree_build("/no/such/path", 0, NULL, NULL, &m, tree, &e), MP_ENOENT);
    assert_null(m);
    mp_rm_rf(d, NULL);
    free(root);
    free(f1);
    free(f2);
    free(f3);
    free(sub);
    free(empty);
    free(d);
}

static void expect_bad_manifest(const char *text, const char *msg) {
    json_t *m = json_loads(text, 0, NULL);
    assert_non_null(m);
    mp_err e;
    mp_err_clear(&e);
    assert_int_equal(exec__tree_check(m, &e), MP_EINVAL);
    if (!strstr(e.msg, msg)) fail_msg("'%s' not in: %s", msg, e.msg);
    json_decref(m);
}

#define H64 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""

static void manifest_checks(void **state) {
    (void)state;
    expect_bad_manifest("{\"format\": \"x\"}", "format is \"x\"");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": \"1\"}", "sha256 is not 64");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64 ", \"entries\": []}", "no entries");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64
                        ", \"entries\": [{\"path\": \"a\", \"kind\": \"dir\"}]}",
                        "entries[0].path is not \"\"");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64
                        ", \"entries\": [{\"path\": \"\", \"kind\": \"dir\"}, {\"path\": \"../x\", \"kind\": \"dir\"}]}",
                        "entries[1].path is not a relative path inside the tree");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64
                        ", \"entries\": [{\"path\": \"\", \"kind\": \"file\", \"chunks\": []}, {\"path\": \"x\", \"kind\": \"dir\"}]}",
                        "the manifest of a file has more than one entry");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64
                        ", \"entries\": [{\"path\": \"\", \"kind\": \"file\", \"chunks\": [\"zz\"]}]}",
                        "entries[0].chunks[0] is not a SHA-256");
    expect_bad_manifest("{\"format\": \"mlplane-tree-v1\", \"sha256\": " H64
                        ", \"entries\": [{\"path\": \"\", \"kind\": \"link\"}]}",
                        "kind is not file or dir");
}

int main(void) {
    if (mp_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(desc_good),     cmocka_unit_test(desc_bad),        cmocka_unit_test(paths),
        cmocka_unit_test(retries_and_status), cmocka_unit_test(tree_hashes), cmocka_unit_test(manifest_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
