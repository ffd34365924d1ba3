/* ggml row encodings: F32, F16, Q8_0, Q4_0 (layouts in quant.h). */
#include "quant/quant.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    uint32_t type;
} names[] = {{"f32", TL_GGML_F32}, {"f16", TL_GGML_F16}, {"q8_0", TL_GGML_Q8_0}, {"q4_0", TL_GGML_Q4_0}};

int tl_ggml_type_parse(const char *name) {
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i].name)) return (int)names[i].type;
    return -1;
}

const char *tl_ggml_type_name(uint32_t type) {
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].type == type) return names[i].name;
    return NULL;
}

uint32_t tl_ggml_file_type(uint32_t type) {
    switch (type) {
    case TL_GGML_F16: return 1;
    case TL_GGML_Q4_0: return 2;
    case TL_GGML_Q8_0: return 7;
    default: return 0;
    }
}

uint64_t tl_ggml_row_bytes(uint32_t type, uint64_t n) {
    switch (type) {
    case TL_GGML_F32: return n * 4;
    case TL_GGML_F16: return n * 2;
    case TL_GGML_Q4_0: return n % TL_QK ? 0 : n / TL_QK * 18;
    case TL_GGML_Q8_0: return n % TL_QK ? 0 : n / TL_QK * 34;
    default: return 0;
    }
}

static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

void tl_quant_row(uint32_t type, const float *x, size_t n, void *out) {
    unsigned char *o = out;
    switch (type) {
    case TL_GGML_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            for (int b = 0; b < 4; b++) o[4 * i + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
        break;
    case TL_GGML_F16:
        for (size_t i = 0; i < n; i++) put16(o + 2 * i, tl_f32_to_f16(x[i]));
        break;
    case TL_GGML_Q8_0:
        for (size_t b = 0; b < n / TL_QK; b++, x += TL_QK, o += 34) {
            float amax = 0;
            for (int j = 0; j < TL_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127, id = d ? 1.0f / d : 0;
            put16(o, tl_f32_to_f16(d));
            for (int j = 0; j < TL_QK; j++) o[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
        }
        break;
    case TL_GGML_Q4_0:
        for (size_t b = 0; b < n / TL_QK; b++, x += TL_QK, o += 18) {
            float amax = 0, m = 0;
            for (int j = 0; j < TL_QK; j++)
                if (fabsf(x[j]) > amax) amax = fabsf(x[j]), m = x[j];
            float d = m / -8, id = d ? 1.0f / d : 0;
            put16(o, tl_f32_to_f16(d));
            for (int j = 0; j < TL_QK / 2; j++) {
                int lo = (int)(int8_t)(x[j] * id + 8.5f), hi = (int)(int8_t)(x[j + TL_QK / 2] * id + 8.5f);
                o[2 + j] = (unsigned char)((lo < 15 ? lo : 15) | (hi < 15 ? hi : 15) << 4);
            }
        }
        break;
    }
}

void tl_dequant_row(uint32_t type, const void *in, size_t n, float *out) {
    const unsigned char *p = in;
    switch (type) {
    case TL_GGML_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
        }
        break;
    case TL_GGML_F16:
        for (size_t i = 0; i < n; i++) out[i] = tl_f16_to_f32(get16(p + 2 * i));
        break;
    case TL_GGML_Q8_0:
        for (size_t b = 0; b < n / TL_QK; b++, p += 34, out += TL_QK) {
            float d = tl_f16_to_f32(get16(p));
            for (int j = 0; j < TL_QK; j++) out[j] = d * (float)(int8_t)p[2 + j];
        }
        break;
    case TL_GGML_Q4_0:
        for (size_t b = 0; b < n / TL_QK; b++, p += 18, out += TL_QK) {
            float d = tl_f16_to_f32(get16(p));
            for (int j = 0; j < TL_QK / 2; j++) {
                out[j] = d * (float)((p[2 + j] & 15) - 8);
                out[j + TL_QK / 2] = d * (float)((p[2 + j] >> 4) - 8);
            }
        }
        break;
    }
}

uint16_t tl_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0)); /* inf, NaN */
    int e16 = (int)exp - 127 + 15;
    if (e16 >= 31) return (uint16_t)(sign | 0x7c00);                       /* overflow: inf */
    if (e16 <= 0) {                                                           /* subnormal or zero */
        if (e16 < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e16;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)e16 << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: still right */
    return (uint16_t)(sign | h);
}

float tl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) f = ldexpf((float)man, -24);
    else if (exp == 31) f = man ? NAN : INFINITY;
    else f = ldexpf((float)(man | 0x400), (int)exp - 25);
    uint32_t x;
    memcpy(&x, &f, 4);
    x |= sign;
    memcpy(&f, &x, 4);
    return f;
}
