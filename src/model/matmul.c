/* Dense fp32 matrix products for training (reference loops; see matmul.h for the contract). */
#include "model/matmul.h"

void tl_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++)
        for (int o = 0; o < OC; o++) {
            float s = bias ? bias[o] : 0.0f;
            for (int k = 0; k < C; k++) s += inp[(long)i * C + k] * weight[(long)o * C + k];
            out[(long)i * OC + o] = s;
        }
}

void tl_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int BT, int C, int OC) {
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < BT; i++)
            for (int o = 0; o < OC; o++)
                for (int k = 0; k < C; k++) dinp[(long)i * C + k] += dout[(long)i * OC + o] * weight[(long)o * C + k];
    }
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        for (int i = 0; i < BT; i++) {
            float d = dout[(long)i * OC + o];
            if (dbias) dbias[o] += d;
            for (int k = 0; k < C; k++) dweight[(long)o * C + k] += d * inp[(long)i * C + k];
        }
    }
}
