/* test_gpu.c — GPU discovery through NVML loaded at run time (src/sched/gpu.c),
 * against the fake NVML library (tests/fakes/fake_nvml.c, path in
 * $MLPLANE_FAKE_NVML): devices found with their names, UUIDs and memory; and
 * every way of finding none (no library, a file that is not one, a library
 * without NVML, nvmlInit failing, no device) gives 0 GPUs and a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

#define H100 "NVIDIA H100 80GB HBM3"
#define H100_BYTES 85899345920LL

static const char *fake_path(void) {
    const char *p = getenv("MLPLANE_FAKE_NVML");
    if (!p || !*p) fail_msg("MLPLANE_FAKE_NVML is not set (ctest sets it to the fake NVML library)");
    return p;
}

static void use_fake(const char *gpus) {
    setenv("MLPLANE_NVML_LIBRARY", fake_path(), 1);
    if (gpus) setenv("FAKE_NVML_GPUS", gpus, 1);
    else unsetenv("FAKE_NVML_GPUS");
    unsetenv("FAKE_NVML_INIT_ERROR");
}

/* Discovers and expects no GPU and a reason containing words. */
static void expect_none(const char *words) {
    sched_gpu *g = (sched_gpu *)1;
    size_t n = 42;
    char why[256] = "x";
    assert_int_equal(sched_gpu_discover(&g, &n, why, sizeof why), 0);
    assert_null(g);
    assert_int_equal(n, 0);
    if (!strstr(why, words)) print_message("reason \"%s\" lacks \"%s\"\n", why, words);
    assert_non_null(strstr(why, words));
}

static void test_fake_two_gpus(void **state) {
    (void)state;
    use_fake(H100 ":85899345920," H100 ":85899345920");
    sched_gpu *g = NULL;
    size_t n = 0;
    char why[256] = "x";
    assert_int_equal(sched_gpu_discover(&g, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_string_equal(why, "");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g[i].index, (int)i);
        assert_string_equal(g[i].name, H100);
        assert_true(g[i].memory_bytes == H100_BYTES);
        assert_true(strncmp(g[i].uuid, "GPU-", 4) == 0);
    }
    assert_string_not_equal(g[0].uuid, g[1].uuid);
    free(g);
}

static void test_fake_mixed_models_and_why_optional(void **state) {
    (void)state;
    /* a name with ':' in it: the size is after the last one */
    use_fake("Tesla T4:16106127360,NVIDIA A100-SXM4-80GB:85899345920,GPU:with:colons:1024");
    sched_gpu *g = NULL;
    size_t n = 0;
    assert_int_equal(sched_gpu_discover(&g, &n, NULL, 0), 0);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].name, "Tesla T4");
    assert_true(g[0].memory_bytes == 16106127360LL);
    assert_string_equal(g[1].name, "NVIDIA A100-SXM4-80GB");
    assert_string_equal(g[2].name, "GPU:with:colons");
    assert_true(g[2].memory_bytes == 1024);
    free(g);
}

static void test_fake_without_devices(void **state) {
    (void)state;
    use_fake(NULL);
    expect_none("no GPU");
}

static void test_nvml_init_failing(void **state) {
    (void)state;
    use_fake(H100 ":85899345920");
    setenv("FAKE_NVML_INIT_ERROR", "9", 1); /* NVML_ERROR_DRIVER_NOT_LOADED */
    expect_none("nvmlInit failed: Driver Not Loaded");
    unsetenv("FAKE_NVML_INIT_ERROR");
}

static void test_no_library(void **state) {
    (void)state;
    setenv("MLPLANE_NVML_LIBRARY", "libnvidia-ml-absent-for-tests.so.1", 1);
    expect_none("libnvidia-ml-absent-for-tests.so.1 (MLPLANE_NVML_LIBRARY) not found");
    setenv("MLPLANE_NVML_LIBRARY", "/nonexistent/dir/libnvidia-ml.so.1", 1);
    expect_none("/nonexistent/dir/libnvidia-ml.so.1 (MLPLANE_NVML_LIBRARY) not found");
}

static void test_default_library(void **state) {
    (void)state;
    /* Without the override the real libnvidia-ml.so.1 is tried: absent here, or a
     * real driver on a GPU machine; either way discovery succeeds. */
    unsetenv("MLPLANE_NVML_LIBRARY");
    sched_gpu *g = NULL;
    size_t n = 0;
    char why[256];
    assert_int_equal(sched_gpu_discover(&g, &n, why, sizeof why), 0);
    if (n == 0) assert_true(why[0] != '\0'); /* e.g. "libnvidia-ml.so.1 not found" */
    free(g);
}

static void test_broken_library(void **state) {
    (void)state;
    /* a file that is not a shared library */
    const char *tmp = getenv("MLPLANE_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/not-a-library.so", tmp && *tmp ? tmp : "/tmp");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo 'not ELF' > '%s'", tmp && *tmp ? tmp : "/tmp", path);
    assert_int_equal(system(cmd), 0);
    setenv("MLPLANE_NVML_LIBRARY", path, 1);
    expect_none("cannot load");
    remove(path);
    /* a real shared library that is not NVML */
    setenv("MLPLANE_NVML_LIBRARY", "libm.so.6", 1);
    expect_none("has no nvmlInit_v2");
}

static void test_local_capacity_is_cached(void **state) {
    (void)state;
    use_fake(H100 ":85899345920," H100 ":85899345920");
    size_t n = 0;
    const char *why = NULL;
    const sched_gpu *g = sched_gpu_local(&n, &why);
    assert_int_equal(n, 2);
    assert_non_null(g);
    assert_string_equal(why, "");
    sched_capacity c;
    sched_local_capacity(&c);
    assert_true(c.gpu == 2);
    assert_true(c.cpu_milli >= 1000);
    /* discovered once per process: a changed environment does not change it */
    setenv("MLPLANE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    size_t n2 = 0;
    assert_ptr_equal(sched_gpu_local(&n2, NULL), g);
    assert_int_equal(n2, 2);
    sched_local_capacity(&c);
    assert_true(c.gpu == 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_two_gpus),
        cmocka_unit_test(test_fake_mixed_models_and_why_optional),
        cmocka_unit_test(test_fake_without_devices),
        cmocka_unit_test(test_nvml_init_failing),
        cmocka_unit_test(test_no_library),
        cmocka_unit_test(test_default_library),
        cmocka_unit_test(test_broken_library),
        cmocka_unit_test(test_local_capacity_is_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
