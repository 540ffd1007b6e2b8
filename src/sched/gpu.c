/* gpu.c — discovers this machine's NVIDIA GPUs through NVML, loaded at run time
 * with dlopen (libnvidia-ml.so.1, or $MLPLANE_NVML_LIBRARY), so mlplane builds and
 * runs where no NVIDIA library exists: there it simply finds 0 GPUs and keeps the
 * reason for display. Only the few NVML types and functions used here are
 * declared, following NVIDIA's nvml.h (the v2 entry points).
 *
 * Threads: sched_gpu_discover is reentrant (NVML's init/shutdown are reference
 * counted, dlopen/dlerror are thread-safe in glibc); sched_gpu_local discovers
 * once per process (pthread_once) and its result, owned by this file, is
 * read-only afterwards and lives until exit. */
#include "sched/sched.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* ---- the NVML C API, as far as used (see nvml.h) ------------------------------- */
typedef int nvml_return;                 /* nvmlReturn_t: an enum, NVML_SUCCESS = 0 */
typedef struct nvmlDevice_st *nvml_device; /* nvmlDevice_t: an opaque handle */
typedef struct nvml_memory {               /* nvmlMemory_t (v1) */
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvml_memory;
typedef struct nvml_utilization { /* nvmlUtilization_t */
    unsigned int gpu;             /* percent of the sample period a kernel ran */
    unsigned int memory;          /* percent of it memory was read or written */
} nvml_utilization;
enum { NVML_OK = 0, NVML_NAME_BUFFER = 96, NVML_UUID_BUFFER = 96 }; /* NVML_DEVICE_{NAME,UUID}_V2_BUFFER_SIZE */

typedef nvml_return (*nvml_init_fn)(void);
typedef nvml_return (*nvml_shutdown_fn)(void);
typedef nvml_return (*nvml_count_fn)(unsigned int *count);
typedef nvml_return (*nvml_handle_fn)(unsigned int index, nvml_device *device);
typedef nvml_return (*nvml_string_fn)(nvml_device device, char *buf, unsigned int length);
typedef nvml_return (*nvml_memory_fn)(nvml_device device, nvml_memory *memory);
typedef const char *(*nvml_error_fn)(nvml_return result);
typedef nvml_return (*nvml_util_fn)(nvml_device device, nvml_utilization *u);

typedef struct nvml_api {
    nvml_init_fn init;
    nvml_shutdown_fn shutdown;
    nvml_count_fn count;
    nvml_handle_fn handle;
    nvml_string_fn name;
    nvml_string_fn uuid;
    nvml_memory_fn memory;
    nvml_error_fn error;
    nvml_util_fn utilization; /* optional: NULL where the library lacks it */
} nvml_api;

static const char *nvml_err(const nvml_api *a, nvml_return r) {
    const char *s = a->error ? a->error(r) : NULL;
    return s ? s : "unknown NVML error";
}

/* Loads the library; on failure writes why and returns NULL. */
static void *nvml_open(const char **path_out, char *why, size_t whyn) {
    const char *env = getenv("MLPLANE_NVML_LIBRARY");
    const char *path = env && *env ? env : NVML_DEFAULT_LIBRARY;
    *path_out = path;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *de = dlerror();
    bool missing = de && strstr(de, "No such file");
    if (path == env) {
        if (missing) snprintf(why, whyn, "%s (MLPLANE_NVML_LIBRARY) not found", path);
        else snprintf(why, whyn, "cannot load %s (MLPLANE_NVML_LIBRARY): %s", path, de ? de : "dlopen failed");
    } else if (missing) {
        snprintf(why, whyn, "%s not found", path);
    } else {
        snprintf(why, whyn, "cannot load %s: %s", path, de ? de : "dlopen failed");
    }
    return NULL;
}

/* Resolves every function; on a missing one writes why and returns false. */
static bool nvml_bind(void *h, const char *path, nvml_api *a, char *why, size_t whyn) {
    struct {
        const char *sym;
        void **slot;
    } syms[] = {
        {"nvmlInit_v2", (void **)&a->init},
        {"nvmlShutdown", (void **)&a->shutdown},
        {"nvmlDeviceGetCount_v2", (void **)&a->count},
        {"nvmlDeviceGetHandleByIndex_v2", (void **)&a->handle},
        {"nvmlDeviceGetName", (void **)&a->name},
        {"nvmlDeviceGetUUID", (void **)&a->uuid},
        {"nvmlDeviceGetMemoryInfo", (void **)&a->memory},
        {"nvmlErrorString", (void **)&a->error},
    };
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(h, syms[i].sym);
        if (!f) {
            snprintf(why, whyn, "%s is not a usable NVML library: it has no %s", path, syms[i].sym);
            return false;
        }
        /* POSIX guarantees an object pointer from dlsym converts to a function pointer. */
        memcpy(syms[i].slot, &f, sizeof f);
    }
    void *u = dlsym(h, "nvmlDeviceGetUtilizationRates");
    if (u) memcpy(&a->utilization, &u, sizeof u);
    return true;
}

int sched_gpu_discover(sched_gpu **out, size_t *n, char *why, size_t whyn) {
    char scratch[8];
    if (!why || whyn == 0) {
        why = scratch;
        whyn = sizeof scratch;
    }
    *out = NULL;
    *n = 0;
    why[0] = '\0';
    const char *path = NULL;
    void *h = nvml_open(&path, why, whyn);
    if (!h) return 0;
    nvml_api a;
    if (!nvml_bind(h, path, &a, why, whyn)) {
        dlclose(h);
        return 0;
    }
    nvml_return r = a.init();
    if (r != NVML_OK) {
        snprintf(why, whyn, "nvmlInit failed: %s", nvml_err(&a, r));
        dlclose(h);
        return 0;
    }
    unsigned int count = 0;
    if ((r = a.count(&count)) != NVML_OK) {
        snprintf(why, whyn, "nvmlDeviceGetCount failed: %s", nvml_err(&a, r));
        count = 0;
    } else if (count == 0) {
        snprintf(why, whyn, "NVML reports no GPU");
    }
    sched_gpu *g = count ? mp_xcalloc(count, sizeof *g) : NULL;
    size_t k = 0;
    for (unsigned int i = 0; i < count; i++) {
        nvml_device d = NULL;
        if ((r = a.handle(i, &d)) != NVML_OK) {
            /* e.g. a GPU this user may not use: leave it out, say so */
            size_t l = strlen(why);
            snprintf(why + l, whyn - l, "%sGPU %u skipped: %s", l ? "; " : "", i, nvml_err(&a, r));
            continue;
        }
        sched_gpu *x = &g[k++];
        x->index = (int)i;
        char buf[NVML_NAME_BUFFER > NVML_UUID_BUFFER ? NVML_NAME_BUFFER : NVML_UUID_BUFFER];
        buf[0] = '\0';
        if (a.name(d, buf, NVML_NAME_BUFFER) != NVML_OK) mp_strlcpy(buf, "unknown NVIDIA GPU", sizeof buf);
        buf[sizeof buf - 1] = '\0';
        mp_strlcpy(x->name, buf, sizeof x->name);
        buf[0] = '\0';
        if (a.uuid(d, buf, NVML_UUID_BUFFER) != NVML_OK) buf[0] = '\0';
        buf[sizeof buf - 1] = '\0';
        mp_strlcpy(x->uuid, buf, sizeof x->uuid);
        nvml_memory m = {0};
        bool mem_ok = a.memory(d, &m) == NVML_OK;
        x->memory_bytes = mem_ok ? (int64_t)m.total : 0;
        x->memory_used_bytes = mem_ok ? (int64_t)m.used : 0;
        nvml_utilization u = {0};
        x->utilization_percent = a.utilization && a.utilization(d, &u) == NVML_OK ? (int)u.gpu : -1;
    }
    a.shutdown();
    dlclose(h);
    if (k == 0) {
        free(g);
        g = NULL;
    }
    *out = g;
    *n = k;
    return 0;
}

/* ---- the per-process cache ------------------------------------------------------ */
static pthread_once_t local_once = PTHREAD_ONCE_INIT;
static sched_gpu *local_gpus;
static size_t local_n;
static char local_why[256];

static void local_discover(void) {
    sched_gpu_discover(&local_gpus, &local_n, local_why, sizeof local_why);
}

const sched_gpu *sched_gpu_local(size_t *n, const char **why) {
    pthread_once(&local_once, local_discover);
    if (n) *n = local_n;
    if (why) *why = local_why;
    return local_gpus;
}
