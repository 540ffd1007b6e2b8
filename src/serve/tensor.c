/* tensor.c — the datatypes of the Open Inference Protocol and the conversion of
 * a tensor's elements into the 32-bit floats a model takes, from either form a
 * request may carry them in:
 *
 *   - JSON values ("data": [1.5, 2, ...]): numbers, integers or booleans as the
 *     datatype says;
 *   - raw bytes (the binary tensor data extension, "binary_data_size"):
 *     little-endian, row-major, packed, each element in the datatype's native
 *     size (BOOL one byte, 0 or 1; FP16 IEEE half; BF16 the upper half of an
 *     FP32). The bytes are read one by one, so neither the host's byte order
 *     nor the alignment of the data in the body matters.
 *
 * A NaN in binary floating-point data passes through (XGBoost reads it as a
 * missing value); an infinity, or an FP64 beyond the range of a float, is
 * refused, as a JSON number beyond that range is. BYTES (length-prefixed
 * strings) cannot be a model's numeric input. Pure and reentrant. */
#include "serve/serve_int.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const serve__dtype dtypes[] = {
    {"FP32", SERVE__DT_FLOAT, 4, 0, 0},
    {"FP64", SERVE__DT_FLOAT, 8, 0, 0},
    {"INT8", SERVE__DT_INT, 1, -128, 127},
    {"INT16", SERVE__DT_INT, 2, -32768, 32767},
    {"INT32", SERVE__DT_INT, 4, INT_MIN, INT_MAX},
    {"INT64", SERVE__DT_INT, 8, LLONG_MIN, LLONG_MAX},
    {"UINT8", SERVE__DT_UINT, 1, 0, 255},
    {"UINT16", SERVE__DT_UINT, 2, 0, 65535},
    {"UINT32", SERVE__DT_UINT, 4, 0, 4294967295LL},
    {"UINT64", SERVE__DT_UINT, 8, 0, LLONG_MAX}, /* in JSON: as far as jansson's integers reach */
    {"BOOL", SERVE__DT_BOOL, 1, 0, 1},
    {"FP16", SERVE__DT_HALF, 2, 0, 0},
    {"BF16", SERVE__DT_BF16, 2, 0, 0},
    {"BYTES", SERVE__DT_BYTES, 0, 0, 0},
};

const serve__dtype *serve__dtype_find(const char *name) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) return &dtypes[i];
    return NULL;
}

bool serve__dtype_json(const serve__dtype *dt) {
    return dt->kind != SERVE__DT_HALF && dt->kind != SERVE__DT_BF16 && dt->kind != SERVE__DT_BYTES;
}

/* ---- JSON values ---------------------------------------------------------------------- */

bool serve__json_elem(const json_t *v, const serve__dtype *dt, float *out, char *why, size_t n) {
    assert(serve__dtype_json(dt));
    switch (dt->kind) {
    case SERVE__DT_FLOAT:
        if (!json_is_number(v)) break;
        double d = json_number_value(v);
        float f = (float)d;
        if (!isfinite(f)) {
            snprintf(why, n, "(%g) is beyond the range of the model's 32-bit floats", d);
            return false;
        }
        *out = f;
        return true;
    case SERVE__DT_INT:
    case SERVE__DT_UINT:
        if (!json_is_integer(v)) break;
        json_int_t x = json_integer_value(v);
        if (x < dt->lo || x > dt->hi) {
            snprintf(why, n, "(%lld) is out of the range of %s", (long long)x, dt->name);
            return false;
        }
        *out = (float)x;
        return true;
    case SERVE__DT_BOOL:
        if (!json_is_boolean(v)) break;
        *out = json_is_true(v) ? 1.0f : 0.0f;
        return true;
    default:
        break;
    }
    static const char *const kinds[] = {"an object", "an array", "a string", "an integer", "a number", "true", "false", "null"};
    const char *what = kinds[json_typeof(v)];
    const char *want = dt->kind == SERVE__DT_FLOAT ? "numbers" : dt->kind == SERVE__DT_BOOL ? "true or false" : "integers";
    snprintf(why, n, "is %s; %s data are %s", what, dt->name, want);
    return false;
}

/* ---- raw little-endian bytes ------------------------------------------------------------ */

static uint64_t le(const unsigned char *p, size_t size) {
    uint64_t v = 0;
    for (size_t i = size; i-- > 0;) v = v << 8 | p[i];
    return v;
}

static float bits_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE 754 half precision to single (exact: every half is a float). */
static float half_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | man << 13); /* infinity, NaN */
    if (exp == 0) {
        if (man == 0) return bits_float(sign);
        int e = 1; /* a subnormal: shift its leading 1 into the implicit bit */
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        return bits_float(sign | (uint32_t)(e - 15 + 127) << 23 | (man & 0x3ffu) << 13);
    }
    return bits_float(sign | (exp - 15 + 127) << 23 | man << 13);
}

/* One element at p; false with why when the model cannot take it. */
static bool bin_elem(const unsigned char *p, const serve__dtype *dt, float *out, char *why, size_t n) {
    uint64_t v = le(p, dt->size);
    switch (dt->kind) {
    case SERVE__DT_FLOAT:
        if (dt->size == 4) {
            *out = bits_float((uint32_t)v);
            if (isinf(*out)) break;
            return true;
        } else {
            double d;
            memcpy(&d, &v, sizeof d);
            *out = (float)d;
            if (isinf(*out)) {
                snprintf(why, n, "(%g) is beyond the range of the model's 32-bit floats", d);
                return false;
            }
            return true;
        }
    case SERVE__DT_HALF:
        *out = half_float((uint16_t)v);
        if (isinf(*out)) break;
        return true;
    case SERVE__DT_BF16:
        *out = bits_float((uint32_t)v << 16);
        if (isinf(*out)) break;
        return true;
    case SERVE__DT_INT: {
        unsigned shift = (unsigned)(64 - 8 * dt->size); /* sign-extend */
        *out = (float)((int64_t)(v << shift) >> shift);
        return true;
    }
    case SERVE__DT_UINT:
        *out = (float)v;
        return true;
    case SERVE__DT_BOOL:
        if (v > 1) {
            snprintf(why, n, "is the byte %u; BOOL elements are the bytes 0 (false) and 1 (true)", (unsigned)v);
            return false;
        }
        *out = (float)v;
        return true;
    case SERVE__DT_BYTES:
        break;
    }
    snprintf(why, n, "is infinite, which the model cannot take (a NaN is a missing value)");
    return false;
}

bool serve__binary_elems(const unsigned char *p, size_t count, const serve__dtype *dt, float *out, size_t *bad, char *why,
                         size_t n) {
    assert(dt->size > 0);
    if (dt->kind == SERVE__DT_FLOAT && dt->size == 4) {
        /* The common case: a copy on a little-endian host, then one pass for
         * infinities over the bits (a loop the compiler vectorises). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(out, p, count * sizeof *out);
#else
        for (size_t i = 0; i < count; i++) out[i] = bits_float((uint32_t)le(p + 4 * i, 4));
#endif
        bool inf = false;
        for (size_t i = 0; i < count; i++) {
            uint32_t u;
            memcpy(&u, &out[i], sizeof u);
            inf |= (u & 0x7fffffffu) == 0x7f800000u;
        }
        if (!inf) return true;
        for (size_t i = 0; i < count; i++)
            if (isinf(out[i])) {
                *bad = i;
                break;
            }
        snprintf(why, n, "is infinite, which the model cannot take (a NaN is a missing value)");
        return false;
    }
    for (size_t i = 0; i < count; i++)
        if (!bin_elem(p + i * dt->size, dt, &out[i], why, n)) {
            *bad = i;
            return false;
        }
    return true;
}

void serve__put_floats_le(mp_buf *b, const float *x, size_t n) {
    unsigned char chunk[1024];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        for (int j = 0; j < 4; j++) chunk[k++] = (unsigned char)(u >> (8 * j));
        if (k == sizeof chunk) {
            mp_buf_append(b, chunk, k);
            k = 0;
        }
    }
    if (k) mp_buf_append(b, chunk, k);
}
