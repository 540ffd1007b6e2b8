/* fake_nvml.c — a FAKE of NVIDIA's NVML library (libnvidia-ml.so.1) for tests,
 * built as libfake-nvml.so and loaded by mlplane through $MLPLANE_NVML_LIBRARY.
 * It implements the few NVML entry points mlplane uses, with NVML's C signatures
 * and behaviour at the boundary: init is reference counted, every call before
 * init is NVML_ERROR_UNINITIALIZED, bad arguments are NVML_ERROR_INVALID_ARGUMENT,
 * short buffers NVML_ERROR_INSUFFICIENT_SIZE, and error strings read like NVML's.
 *
 * Its devices come from the environment, read at each first nvmlInit_v2:
 *   FAKE_NVML_GPUS="NAME:BYTES,NAME:BYTES"  one device per entry (unset/empty: none)
 *   FAKE_NVML_UTILIZATION=N                 every device's nvmlDeviceGetUtilizationRates gpu
 *                                           percent (unset: 0)
 *   FAKE_NVML_INIT_ERROR=N                  nvmlInit_v2 returns nvmlReturn_t N (e.g. 9,
 *                                           Driver Not Loaded)
 * Threads: like the tests that use it, single-threaded; no locking. It never
 * allocates, so it adds nothing to leak reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* nvmlReturn_t values, as in nvml.h */
typedef enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_UNKNOWN = 999,
} nvmlReturn_t;

typedef struct nvmlMemory_st {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

#define FAKE_MAX_GPUS 16
struct nvmlDevice_st {
    char name[96];
    char uuid[96];
    unsigned long long memory;
};
typedef struct nvmlDevice_st *nvmlDevice_t;

static struct nvmlDevice_st devices[FAKE_MAX_GPUS];
static unsigned int ndevices;
static int init_count;

/* Fills devices from FAKE_NVML_GPUS. */
static void load_devices(void) {
    ndevices = 0;
    const char *spec = getenv("FAKE_NVML_GPUS");
    if (!spec) return;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && ndevices < FAKE_MAX_GPUS; tok = strtok_r(NULL, ",", &save)) {
        struct nvmlDevice_st *d = &devices[ndevices];
        char *colon = strrchr(tok, ':'); /* names may hold ':'; the size is after the last one */
        unsigned long long mem = 0;
        if (colon) {
            *colon = '\0';
            mem = strtoull(colon + 1, NULL, 10);
        }
        if (!*tok) continue;
        snprintf(d->name, sizeof d->name, "%s", tok);
        snprintf(d->uuid, sizeof d->uuid, "GPU-%08x-fa4e-4e0a-8000-%012x", 0x5eed0000u + ndevices, ndevices + 1);
        d->memory = mem;
        ndevices++;
    }
}

nvmlReturn_t nvmlInit_v2(void) {
    const char *err = getenv("FAKE_NVML_INIT_ERROR");
    if (err && *err) return (nvmlReturn_t)atoi(err);
    if (init_count++ == 0) load_devices();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    init_count--;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = ndevices;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (index >= ndevices || !device) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return NVML_SUCCESS;
}

static int valid(nvmlDevice_t d) {
    return d >= &devices[0] && d < &devices[ndevices];
}

static nvmlReturn_t copy_out(const char *s, char *buf, unsigned int length) {
    if (!buf || length == 0) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!valid(device)) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_out(device->name, name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!valid(device)) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_out(device->uuid, uuid, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!valid(device) || !memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = device->memory;
    memory->used = device->memory / 200; /* the driver's own reservation */
    memory->free = memory->total - memory->used;
    return NVML_SUCCESS;
}

typedef struct nvmlUtilization_st {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!valid(device) || !utilization) return NVML_ERROR_INVALID_ARGUMENT;
    const char *u = getenv("FAKE_NVML_UTILIZATION");
    utilization->gpu = u && *u ? (unsigned int)atoi(u) : 0;
    utilization->memory = utilization->gpu / 2;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}
