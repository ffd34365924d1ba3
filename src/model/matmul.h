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

/* Which part of a product matters, for attention's T x T matrices (row i: query i):
 *   TL_MM_FULL       all of it;
 *   TL_MM_OUT_LOWER  only C[i][j] with j <= i: tiles wholly above the diagonal are not written,
 *                    tiles across it are (the caller ignores C[i][j > i]);
 *   TL_MM_A_LOWER    A[i][k] = 0 for k > i, A_UPPER: A[i][k] = 0 for k < i: whole zero stretches
 *                    of a tile's rows are skipped, so those entries must hold zeros (not garbage). */
typedef enum { TL_MM_FULL, TL_MM_OUT_LOWER, TL_MM_A_LOWER, TL_MM_A_UPPER } tl_mm_shape;

/* C[M, N] = A[M, K] . B[K, N] (overwrite) or C += A . B, every operand given by strides:
 * A[i][k] = A[i * rsa + k * csa], B[k][n] = B[k * rsb + n * csb], C[i][n] = C[i * ldc + n].
 * Called inside an OpenMP parallel region it runs on the calling thread alone. */
void tl_matmul_strided(float *C, long ldc, const float *A, long rsa, long csa, const float *B, long rsb, long csb,
                       int M, int N, int K, tl_mm_shape shape, int overwrite);

#endif
