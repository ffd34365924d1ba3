/* Dense fp32 matrix products for training, the hot loop of the CPU trainer.
 *
 * Layouts follow the model: activations are row-major [BT, C]; a weight is row-major [OC, C]
 * (one row per output channel). Multi-threaded with OpenMP. Deterministic: every output element
 * is summed in a fixed order by one thread, so results do not depend on the thread count. */
#ifndef TL_MODEL_MATMUL_H
#define TL_MODEL_MATMUL_H

/* out[BT, OC] = inp[BT, C] @ weight[OC, C]^T + bias[OC] (bias may be NULL). */
void tl_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC);

/* Accumulates (+=) gradients of the forward above, given dout[BT, OC]:
 *   dinp[BT, C]    += dout @ weight
 *   dweight[OC, C] += dout^T @ inp
 *   dbias[OC]      += sum over rows of dout   (skipped when dbias is NULL)
 * dinp may be NULL (the first layer's input needs no gradient), dweight NULL (frozen weights). */
void tl_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int BT, int C, int OC);

#endif
