/* Causal self-attention on the GPU: flash-attention kernels for head size 64 (bf16 tensor cores
 * through mma.sync m16n8k16, online softmax, the T x T matrix never stored; the forward with 128
 * queries a block, each warp's two 16-row tiles sharing every K and V fragment it loads; a
 * backward pass in two deterministic kernels, dk/dv per key block and dq per query block), and
 * plain fp32 kernels for other head sizes.
 *
 * Layouts: qkv[B, T, 3C] with q, k, v of head h at columns h*hs, C + h*hs, 2C + h*hs; out[B, T, C]
 * with head h at h*hs; lse[B, NH, T] is log2(sum_u exp2(s_tu)) of the scores s = q.k / sqrt(hs)
 * * log2(e), so that p_tu = exp2(s_tu - lse_t).
 *
 * Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16): lane l, g = l / 4, c = (l % 4) * 2.
 *   A 16x16 (row): a0 = (g, c..c+1), a1 = (g+8, c..), a2 = (g, c+8..), a3 = (g+8, c+8..)
 *   B 16x8  (col): b0 = (k = c..c+1, n = g), b1 = (k = c+8.., n = g)
 *   C 16x8       : c0, c1 = (g, c..c+1),     c2, c3 = (g+8, c..c+1)
 * Two neighbouring C tiles of a 16 x 16 block are an A fragment of the next product (P V). */
#include "cuda/common.cuh"

#define FA_D 64          /* head size of the flash kernels */
#define FA_BR 64         /* queries per backward block: 4 warps x 16 rows */
#define FA_MT 2          /* forward: 16-row tiles per warp, sharing each K and V fragment loaded */
#define FA_BRF (4 * 16 * FA_MT) /* queries per forward block */
#define FA_BC 64         /* keys per tile (FA_BR == FA_BC: the diagonal tile is the last one) */
#define FA_LD 72         /* shared row stride in elements: 144-byte rows keep ldmatrix conflict-free */
#define FA_THREADS 128
#define LOG2E 1.4426950408889634f

/* ------------------------------------------------------------------ PTX wrappers */

static __device__ __forceinline__ unsigned smem_u32(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }

/* 16 bytes global -> shared, asynchronously; zero-filled when !ok */
static __device__ __forceinline__ void cp16(void *dst, const void *src, int ok) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(ok ? 16 : 0));
}
static __device__ __forceinline__ void cp_commit(void) { asm volatile("cp.async.commit_group;\n" ::); }
static __device__ __forceinline__ void cp_wait_all(void) { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
static __device__ __forceinline__ void cp_wait_one(void) { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }

static __device__ __forceinline__ void ldsm4(unsigned r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p))
                 : "memory");
}
static __device__ __forceinline__ void ldsm4t(unsigned r[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p))
                 : "memory");
}

/* c[4] += A[16x16] * B[16x8], fp32 accumulate */
static __device__ __forceinline__ void mma(float c[4], const unsigned a[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* two floats -> bf16x2, lo in the low half (the lower column) */
static __device__ __forceinline__ unsigned pack2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(unsigned *)&v;
}

/* ------------------------------------------------------------------ tile helpers */

/* Rows row0 .. row0+63 of one head (64 columns) from global g (row stride `stride` elements) into
 * shared tile sm[64][FA_LD]; rows >= T are zero. 128 threads, four 16-byte chunks each. */
static __device__ __forceinline__ void load_tile(bf16 *sm, const bf16 *g, int row0, int T, long stride, int tid) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int c = tid + i * FA_THREADS, r = c >> 3, k = (c & 7) * 8, ok = row0 + r < T;
        cp16(sm + r * FA_LD + k, g + (long)(ok ? row0 + r : 0) * stride + k, ok);
    }
}

/* A fragments of the 16 rows [r0, r0+16) x 64 columns of a shared tile: a[kk] covers columns
 * kk*16 .. kk*16+15 */
static __device__ __forceinline__ void load_a_frags(unsigned a[4][4], const bf16 *sm, int r0, int lane) {
#pragma unroll
    for (int kk = 0; kk < 4; kk++) ldsm4(a[kk], sm + (r0 + (lane & 15)) * FA_LD + kk * 16 + (lane >> 4) * 8);
}

/* For each of mt 16-row tiles t: acc[t] (16 rows x 64 columns) = A_t (16 x 64, fragments a[t]) *
 * tile^T, where the shared tile holds the 64 columns as rows [64][64] (k dimension contiguous):
 * the S = Q K^T pattern. Each fragment of the tile is loaded once for all mt. */
static __device__ __forceinline__ void mma_abt(float (*acc)[8][4], const unsigned (*a)[4][4], int mt, const bf16 *tile,
                                               int lane) {
#pragma unroll
    for (int p = 0; p < 4; p++)
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            unsigned r[4];
            ldsm4(r, tile + (p * 16 + (lane & 7) + (lane >> 4) * 8) * FA_LD + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
            for (int t = 0; t < mt; t++) {
                mma(acc[t][2 * p], a[t][kk], r[0], r[1]);
                mma(acc[t][2 * p + 1], a[t][kk], r[2], r[3]);
            }
        }
}

/* For each of mt 16-row tiles t: acc[t] (16 rows x 64 columns) += P_t (16 x 64, the C fragments
 * s[t]) * tile, where the shared tile is [64 k-rows][64 columns] (the O += P V pattern). P is
 * rounded to bf16; each fragment of the tile is loaded once for all mt. */
static __device__ __forceinline__ void mma_pb(float (*acc)[8][4], float (*s)[8][4], int mt, const bf16 *tile, int lane) {
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        unsigned a[FA_MT][4];
#pragma unroll
        for (int t = 0; t < mt; t++) {
            a[t][0] = pack2(s[t][2 * kk][0], s[t][2 * kk][1]);
            a[t][1] = pack2(s[t][2 * kk][2], s[t][2 * kk][3]);
            a[t][2] = pack2(s[t][2 * kk + 1][0], s[t][2 * kk + 1][1]);
            a[t][3] = pack2(s[t][2 * kk + 1][2], s[t][2 * kk + 1][3]);
        }
#pragma unroll
        for (int p = 0; p < 4; p++) {
            unsigned r[4];
            ldsm4t(r, tile + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * FA_LD + p * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int t = 0; t < mt; t++) {
                mma(acc[t][2 * p], a[t], r[0], r[1]);
                mma(acc[t][2 * p + 1], a[t], r[2], r[3]);
            }
        }
    }
}

static __device__ __forceinline__ void zero8x4(float a[8][4]) {
#pragma unroll
    for (int n = 0; n < 8; n++) a[n][0] = a[n][1] = a[n][2] = a[n][3] = 0.0f;
}

/* The causal mask on a 16 x 64 tile of C fragments: entries whose key lies past their query become
 * -inf. Rows are queries and columns keys or, when kt, rows keys and columns queries; row0 is this
 * thread's first row (g), col0 the tile's first column. Called on the tiles that reach past the
 * diagonal only, so the others carry no comparisons. */
static __device__ __forceinline__ void mask_causal(float a[8][4], int row0, int col0, int kt, int lane) {
#pragma unroll
    for (int n = 0; n < 8; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int row = row0 + (e >> 1) * 8, col = col0 + n * 8 + (lane & 3) * 2 + (e & 1);
            if (kt ? col < row : col > row) a[n][e] = -INFINITY;
        }
}

/* Stores 16 rows x 64 columns of C fragments (times mul) as bf16 to dst (row stride `stride`),
 * row r0 + g (and + 8) of the tile, skipping rows >= T. */
static __device__ __forceinline__ void store_rows(bf16 *dst, long stride, float acc[8][4], float mul0, float mul1, int row,
                                                  int T, int lane) {
    int c = (lane & 3) * 2;
#pragma unroll
    for (int n = 0; n < 8; n++) {
        if (row < T) *(unsigned *)(dst + (long)row * stride + n * 8 + c) = pack2(acc[n][0] * mul0, acc[n][1] * mul0);
        if (row + 8 < T)
            *(unsigned *)(dst + (long)(row + 8) * stride + n * 8 + c) = pack2(acc[n][2] * mul1, acc[n][3] * mul1);
    }
}

/* ------------------------------------------------------------------ flash forward */

/* grid (ceil(T/FA_BRF), B*NH), 128 threads; the blocks with the most key tiles start first. Warp w
 * holds queries w*16*FA_MT .. of the block in FA_MT tiles of 16 rows; key tiles reaching past the
 * block's first query are masked (the last FA_MT of them). */
__global__ void __launch_bounds__(FA_THREADS) tl_flash_fwd_kernel(bf16 *out, float *lse, const bf16 *qkv, int T, int C,
                                                                  int NH, float sl2) {
    __shared__ __align__(16) bf16 ks[2][FA_BC * FA_LD], vs[2][FA_BC * FA_LD];
    int qb = gridDim.x - 1 - blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, qlo = qb * FA_BRF;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * FA_D;
    /* the block's queries pass through the key and value buffers into registers */
    load_tile(ks[0], base, qlo, T, C3, tid);
    load_tile(ks[1], base, qlo + 64, T, C3, tid);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    unsigned qa[FA_MT][4][4];
#pragma unroll
    for (int t = 0; t < FA_MT; t++) {
        int r = (warp * FA_MT + t) * 16;
        load_a_frags(qa[t], ks[r / FA_BC], r % FA_BC, lane);
    }
    __syncthreads();
    load_tile(ks[0], base + C, 0, T, C3, tid);
    load_tile(vs[0], base + 2 * C, 0, T, C3, tid);
    cp_commit();
    float o[FA_MT][8][4], mrow[FA_MT][2], lrow[FA_MT][2];
    int q0[FA_MT]; /* rows q0[t] and q0[t] + 8 of this thread */
#pragma unroll
    for (int t = 0; t < FA_MT; t++) {
        zero8x4(o[t]);
        mrow[t][0] = mrow[t][1] = -INFINITY;
        lrow[t][0] = lrow[t][1] = 0.0f;
        q0[t] = qlo + (warp * FA_MT + t) * 16 + (lane >> 2);
    }
    int last = qlo + FA_BRF - 1 < T - 1 ? qlo + FA_BRF - 1 : T - 1, nt = last / FA_BC + 1; /* key tiles */
    for (int j = 0; j < nt; j++) {
        if (j + 1 < nt) {
            load_tile(ks[(j + 1) & 1], base + C, (j + 1) * FA_BC, T, C3, tid);
            load_tile(vs[(j + 1) & 1], base + 2 * C, (j + 1) * FA_BC, T, C3, tid);
            cp_commit();
            cp_wait_one();
        } else {
            cp_wait_all();
        }
        __syncthreads();
        float s[FA_MT][8][4];
#pragma unroll
        for (int t = 0; t < FA_MT; t++) zero8x4(s[t]);
        mma_abt(s, qa, FA_MT, ks[j & 1], lane);
        if ((j + 1) * FA_BC > qlo + 1) /* some key of the tile lies past some query of the block */
#pragma unroll
            for (int t = 0; t < FA_MT; t++) mask_causal(s[t], q0[t], j * FA_BC, 0, lane);
#pragma unroll
        for (int t = 0; t < FA_MT; t++) {
            float mx0 = -INFINITY, mx1 = -INFINITY; /* of the raw q.k; scaled once a row (sl2 > 0) */
#pragma unroll
            for (int n = 0; n < 8; n++) {
                mx0 = fmaxf(mx0, fmaxf(s[t][n][0], s[t][n][1]));
                mx1 = fmaxf(mx1, fmaxf(s[t][n][2], s[t][n][3]));
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mrow[t][0], sl2 * fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2)));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mrow[t][1], sl2 * fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2)));
            float corr0 = exp2f(mrow[t][0] - mx0), corr1 = exp2f(mrow[t][1] - mx1);
            mrow[t][0] = mx0;
            mrow[t][1] = mx1;
            lrow[t][0] *= corr0;
            lrow[t][1] *= corr1;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                s[t][n][0] = exp2f(fmaf(s[t][n][0], sl2, -mx0));
                s[t][n][1] = exp2f(fmaf(s[t][n][1], sl2, -mx0));
                s[t][n][2] = exp2f(fmaf(s[t][n][2], sl2, -mx1));
                s[t][n][3] = exp2f(fmaf(s[t][n][3], sl2, -mx1));
                lrow[t][0] += s[t][n][0] + s[t][n][1];
                lrow[t][1] += s[t][n][2] + s[t][n][3];
                o[t][n][0] *= corr0;
                o[t][n][1] *= corr0;
                o[t][n][2] *= corr1;
                o[t][n][3] *= corr1;
            }
        }
        mma_pb(o, s, FA_MT, vs[j & 1], lane);
        __syncthreads();
    }
#pragma unroll
    for (int t = 0; t < FA_MT; t++) {
        float l0 = lrow[t][0], l1 = lrow[t][1];
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        store_rows(out + (long)b * T * C + h * FA_D, C, o[t], 1.0f / l0, 1.0f / l1, q0[t], T, lane);
        if ((lane & 3) == 0) {
            if (q0[t] < T) lse[(long)bh * T + q0[t]] = mrow[t][0] + log2f(l0);
            if (q0[t] + 8 < T) lse[(long)bh * T + q0[t] + 8] = mrow[t][1] + log2f(l1);
        }
    }
}

/* ------------------------------------------------------------------ backward */

/* dvec[b, h, t] = sum over the head's columns of dout * out; warp per (b, t, h) */
__global__ void tl_attention_dvec_kernel(float *dvec, const bf16 *dout, const bf16 *out, int T, int C, int NH, long rows) {
    long w = ((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (w >= rows) return;
    int h = (int)(w % NH), hs = C / NH;
    long bt = w / NH, b = bt / T, t = bt % T;
    const bf16 *d = dout + bt * C + (long)h * hs, *o = out + bt * C + (long)h * hs;
    float acc = 0.0f;
    for (int i = lane; i < hs; i += 32) acc += __bfloat162float(d[i]) * __bfloat162float(o[i]);
    acc = tl_warp_sum(acc);
    if (lane == 0) dvec[(b * NH + h) * T + t] = acc;
}

/* lse and dvec of query rows row0 .. row0+63 into shared memory (+inf / 0 past T, so p = 0) */
static __device__ __forceinline__ void load_rowstats(float *ls, float *dl, const float *lse, const float *dvec, int row0,
                                                     int T, int tid) {
    if (tid < FA_BR) {
        int q = row0 + tid;
        ls[tid] = q < T ? lse[q] : INFINITY;
        dl[tid] = q < T ? dvec[q] : 0.0f;
    }
}

/* dk, dv of 64 keys (block) over every query block from the diagonal on; 4 warps x 16 keys */
__global__ void __launch_bounds__(FA_THREADS) tl_flash_bwd_dkdv_kernel(bf16 *dqkv, const bf16 *qkv, const bf16 *dout,
                                                                       const float *lse, const float *dvec, int T, int C,
                                                                       int NH, float sl2, float scale) {
    __shared__ __align__(16) bf16 qs[2][FA_BR * FA_LD], dos[2][FA_BR * FA_LD];
    __shared__ float ls[2][FA_BR], dl[2][FA_BR];
    int kb = blockIdx.x, nq = gridDim.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * FA_D, *dob = dout + (long)b * T * C + h * FA_D;
    const float *lseb = lse + (long)bh * T, *dvb = dvec + (long)bh * T;
    /* this block's K and V pass through the first buffers into registers */
    load_tile(qs[0], base + C, kb * FA_BC, T, C3, tid);
    load_tile(dos[0], base + 2 * C, kb * FA_BC, T, C3, tid);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    unsigned ka[4][4], va[4][4];
    load_a_frags(ka, qs[0], warp * 16, lane);
    load_a_frags(va, dos[0], warp * 16, lane);
    __syncthreads();
    int k0 = kb * FA_BC + warp * 16 + (lane >> 2); /* keys k0 and k0 + 8 of this thread */
    float dk[8][4], dv[8][4];
    zero8x4(dk);
    zero8x4(dv);
    load_tile(qs[0], base, kb * FA_BR, T, C3, tid);
    load_tile(dos[0], dob, kb * FA_BR, T, C, tid);
    load_rowstats(ls[0], dl[0], lseb, dvb, kb * FA_BR, T, tid);
    cp_commit();
    for (int i = kb; i < nq; i++) {
        int buf = (i - kb) & 1;
        if (i + 1 < nq) {
            load_tile(qs[buf ^ 1], base, (i + 1) * FA_BR, T, C3, tid);
            load_tile(dos[buf ^ 1], dob, (i + 1) * FA_BR, T, C, tid);
            load_rowstats(ls[buf ^ 1], dl[buf ^ 1], lseb, dvb, (i + 1) * FA_BR, T, tid);
            cp_commit();
            cp_wait_one();
        } else {
            cp_wait_all();
        }
        __syncthreads();
        const bf16 *qt = qs[buf], *dt = dos[buf];
        const float *lt = ls[buf], *dlt = dl[buf];
        float st[8][4], dpt[8][4];
        zero8x4(st);
        zero8x4(dpt);
        mma_abt(&st, &ka, 1, qt, lane);  /* S^T = K Q^T: rows keys, columns queries */
        mma_abt(&dpt, &va, 1, dt, lane); /* dP^T = V dO^T */
        if (i == kb) mask_causal(st, k0, i * FA_BR, 1, lane); /* the diagonal tile (FA_BR == FA_BC) */
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int qc = n * 8 + (lane & 3) * 2 + (e & 1);
                float p = exp2f(st[n][e] * sl2 - lt[qc]);
                st[n][e] = p;                          /* P^T */
                dpt[n][e] = p * (dpt[n][e] - dlt[qc]); /* dS^T */
            }
        mma_pb(&dv, &st, 1, dt, lane);  /* dV += P^T dO */
        mma_pb(&dk, &dpt, 1, qt, lane); /* dK += dS^T Q */
        __syncthreads();
    }
    bf16 *dst = dqkv + (long)b * T * C3 + h * FA_D;
    store_rows(dst + C, C3, dk, scale, scale, k0, T, lane);
    store_rows(dst + 2 * C, C3, dv, 1.0f, 1.0f, k0, T, lane);
}

/* dq of 64 queries (block) over the key blocks up to the diagonal; 4 warps x 16 queries */
__global__ void __launch_bounds__(FA_THREADS) tl_flash_bwd_dq_kernel(bf16 *dqkv, const bf16 *qkv, const bf16 *dout,
                                                                     const float *lse, const float *dvec, int T, int C,
                                                                     int NH, float sl2, float scale) {
    __shared__ __align__(16) bf16 ks[2][FA_BC * FA_LD], vs[2][FA_BC * FA_LD];
    int qb = gridDim.x - 1 - blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * FA_D, *dob = dout + (long)b * T * C + h * FA_D;
    load_tile(ks[0], base, qb * FA_BR, T, C3, tid);
    load_tile(vs[0], dob, qb * FA_BR, T, C, tid);
    cp_commit();
    cp_wait_all();
    __syncthreads();
    unsigned qa[4][4], da[4][4];
    load_a_frags(qa, ks[0], warp * 16, lane);
    load_a_frags(da, vs[0], warp * 16, lane);
    __syncthreads();
    int q0 = qb * FA_BR + warp * 16 + (lane >> 2);
    float l0 = q0 < T ? lse[(long)bh * T + q0] : INFINITY, l1 = q0 + 8 < T ? lse[(long)bh * T + q0 + 8] : INFINITY;
    float d0 = q0 < T ? dvec[(long)bh * T + q0] : 0.0f, d1 = q0 + 8 < T ? dvec[(long)bh * T + q0 + 8] : 0.0f;
    float dq[8][4];
    zero8x4(dq);
    load_tile(ks[0], base + C, 0, T, C3, tid);
    load_tile(vs[0], base + 2 * C, 0, T, C3, tid);
    cp_commit();
    for (int j = 0; j <= qb; j++) {
        if (j < qb) {
            load_tile(ks[(j + 1) & 1], base + C, (j + 1) * FA_BC, T, C3, tid);
            load_tile(vs[(j + 1) & 1], base + 2 * C, (j + 1) * FA_BC, T, C3, tid);
            cp_commit();
            cp_wait_one();
        } else {
            cp_wait_all();
        }
        __syncthreads();
        const bf16 *kt = ks[j & 1], *vt = vs[j & 1];
        float s[8][4], dp[8][4];
        zero8x4(s);
        zero8x4(dp);
        mma_abt(&s, &qa, 1, kt, lane);  /* S = Q K^T */
        mma_abt(&dp, &da, 1, vt, lane); /* dP = dO V^T */
        if (j == qb) mask_causal(s, q0, j * FA_BC, 0, lane); /* the diagonal tile */
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float p = exp2f(s[n][e] * sl2 - (e < 2 ? l0 : l1));
                dp[n][e] = p * (dp[n][e] - (e < 2 ? d0 : d1)); /* dS */
            }
        mma_pb(&dq, &dp, 1, kt, lane); /* dQ += dS K */
        __syncthreads();
    }
    store_rows(dqkv + (long)b * T * C3 + h * FA_D, C3, dq, scale, scale, q0, T, lane);
}

/* ------------------------------------------------------------------ plain kernels (any head size) */

#define PL_THREADS 128

/* block per (t, b*NH + h); shared: p[T], q[hs] */
__global__ void tl_attn_plain_fwd_kernel(bf16 *out, float *lse, const bf16 *qkv, int T, int C, int NH, float sl2) {
    extern __shared__ float sm[];
    __shared__ float red[32];
    int t = blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH, hs = C / NH, tid = threadIdx.x;
    float *p = sm, *q = sm + T;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + (long)h * hs;
    for (int d = tid; d < hs; d += PL_THREADS) q[d] = __bfloat162float(base[(long)t * C3 + d]);
    __syncthreads();
    float mx = -INFINITY;
    for (int u = tid; u <= t; u += PL_THREADS) {
        const bf16 *k = base + (long)u * C3 + C;
        float acc = 0.0f;
        for (int d = 0; d < hs; d++) acc += q[d] * __bfloat162float(k[d]);
        p[u] = acc * sl2;
        mx = fmaxf(mx, p[u]);
    }
    mx = tl_warp_max(mx);
    __syncthreads();
    if ((tid & 31) == 0) red[tid >> 5] = mx;
    __syncthreads();
    mx = red[0];
    for (int w = 1; w < PL_THREADS / 32; w++) mx = fmaxf(mx, red[w]);
    float sum = 0.0f;
    for (int u = tid; u <= t; u += PL_THREADS) sum += (p[u] = exp2f(p[u] - mx));
    sum = tl_block_sum(sum, red); /* its leading barrier also publishes p */
    for (int d = tid; d < hs; d += PL_THREADS) {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++) acc += p[u] * __bfloat162float(base[(long)u * C3 + 2 * C + d]);
        out[((long)b * T + t) * C + (long)h * hs + d] = __float2bfloat16_rn(acc / sum);
    }
    if (tid == 0) lse[(long)bh * T + t] = mx + log2f(sum);
}

/* dq of query t: block per (t, bh); shared: ds[T], dO row [hs] */
__global__ void tl_attn_plain_dq_kernel(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *dvec,
                                        int T, int C, int NH, float sl2, float scale) {
    extern __shared__ float sm[];
    int t = blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH, hs = C / NH, tid = threadIdx.x;
    float *ds = sm, *q = sm + T, *g = q + hs;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + (long)h * hs;
    for (int d = tid; d < hs; d += PL_THREADS) {
        q[d] = __bfloat162float(base[(long)t * C3 + d]);
        g[d] = __bfloat162float(dout[((long)b * T + t) * C + (long)h * hs + d]);
    }
    __syncthreads();
    float l = lse[(long)bh * T + t], dv = dvec[(long)bh * T + t];
    for (int u = tid; u <= t; u += PL_THREADS) {
        const bf16 *k = base + (long)u * C3 + C, *v = base + (long)u * C3 + 2 * C;
        float s = 0.0f, dp = 0.0f;
        for (int d = 0; d < hs; d++) {
            s += q[d] * __bfloat162float(k[d]);
            dp += g[d] * __bfloat162float(v[d]);
        }
        float p = exp2f(s * sl2 - l);
        ds[u] = p * (dp - dv);
    }
    __syncthreads();
    for (int d = tid; d < hs; d += PL_THREADS) {
        float acc = 0.0f;
        for (int u = 0; u <= t; u++) acc += ds[u] * __bfloat162float(base[(long)u * C3 + C + d]);
        dqkv[((long)b * T + t) * C3 + (long)h * hs + d] = __float2bfloat16_rn(acc * scale);
    }
}

/* dk, dv of key u: block per (u, bh); shared: p[T], ds[T], k and v rows [hs] */
__global__ void tl_attn_plain_dkdv_kernel(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse,
                                          const float *dvec, int T, int C, int NH, float sl2, float scale) {
    extern __shared__ float sm[];
    int u = blockIdx.x, bh = blockIdx.y, b = bh / NH, h = bh % NH, hs = C / NH, tid = threadIdx.x;
    float *p = sm, *ds = sm + T, *k = ds + T, *v = k + hs;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + (long)h * hs, *gb = dout + (long)b * T * C + (long)h * hs;
    for (int d = tid; d < hs; d += PL_THREADS) {
        k[d] = __bfloat162float(base[(long)u * C3 + C + d]);
        v[d] = __bfloat162float(base[(long)u * C3 + 2 * C + d]);
    }
    __syncthreads();
    for (int t = u + tid; t < T; t += PL_THREADS) {
        const bf16 *q = base + (long)t * C3, *g = gb + (long)t * C;
        float s = 0.0f, dp = 0.0f;
        for (int d = 0; d < hs; d++) {
            s += __bfloat162float(q[d]) * k[d];
            dp += __bfloat162float(g[d]) * v[d];
        }
        float pp = exp2f(s * sl2 - lse[(long)bh * T + t]);
        p[t] = pp;
        ds[t] = pp * (dp - dvec[(long)bh * T + t]);
    }
    __syncthreads();
    for (int d = tid; d < hs; d += PL_THREADS) {
        float ak = 0.0f, av = 0.0f;
        for (int t = u; t < T; t++) {
            ak += ds[t] * __bfloat162float(base[(long)t * C3 + d]);
            av += p[t] * __bfloat162float(gb[(long)t * C + d]);
        }
        dqkv[((long)b * T + u) * C3 + C + (long)h * hs + d] = __float2bfloat16_rn(ak * scale);
        dqkv[((long)b * T + u) * C3 + 2 * C + (long)h * hs + d] = __float2bfloat16_rn(av);
    }
}

/* ------------------------------------------------------------------ launchers */

extern "C" int tl_cuda_attention_is_flash(int hs) { return hs == FA_D; }

extern "C" cudaError_t tl_cuda_attention_forward(tl_bf16 *out, float *lse, const tl_bf16 *qkv, int B, int T, int C, int NH,
                                                 int plain, cudaStream_t s) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs), sl2 = scale * LOG2E;
    if (hs == FA_D && !plain) {
        dim3 grid(tl_ceil_div(T, FA_BRF), B * NH);
        tl_flash_fwd_kernel<<<grid, FA_THREADS, 0, s>>>(TL_BF(out), lse, TL_CBF(qkv), T, C, NH, sl2);
    } else {
        size_t smem = sizeof(float) * ((size_t)T + (size_t)hs);
        if (smem > 48 * 1024) return cudaErrorInvalidValue;
        tl_attn_plain_fwd_kernel<<<dim3(T, B * NH), PL_THREADS, smem, s>>>(TL_BF(out), lse, TL_CBF(qkv), T, C, NH, sl2);
    }
    return cudaGetLastError();
}

extern "C" cudaError_t tl_cuda_attention_backward(tl_bf16 *dqkv, float *dvec, const tl_bf16 *dout, const tl_bf16 *qkv,
                                                  const tl_bf16 *out, const float *lse, int B, int T, int C, int NH,
                                                  int plain, cudaStream_t s) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs), sl2 = scale * LOG2E;
    long rows = (long)B * T * NH;
    tl_attention_dvec_kernel<<<tl_ceil_div(rows * 32, 256), 256, 0, s>>>(dvec, TL_CBF(dout), TL_CBF(out), T, C, NH, rows);
    cudaError_t r = cudaGetLastError();
    if (r != cudaSuccess) return r;
    if (hs == FA_D && !plain) {
        dim3 grid(tl_ceil_div(T, FA_BR), B * NH);
        tl_flash_bwd_dkdv_kernel<<<grid, FA_THREADS, 0, s>>>(TL_BF(dqkv), TL_CBF(qkv), TL_CBF(dout), lse, dvec, T, C, NH,
                                                              sl2, scale);
        if ((r = cudaGetLastError()) != cudaSuccess) return r;
        tl_flash_bwd_dq_kernel<<<grid, FA_THREADS, 0, s>>>(TL_BF(dqkv), TL_CBF(qkv), TL_CBF(dout), lse, dvec, T, C, NH, sl2,
                                                            scale);
    } else {
        size_t smem = sizeof(float) * (2 * (size_t)T + 2 * (size_t)hs);
        if (smem > 48 * 1024) return cudaErrorInvalidValue;
        tl_attn_plain_dq_kernel<<<dim3(T, B * NH), PL_THREADS, smem, s>>>(TL_BF(dqkv), TL_CBF(qkv), TL_CBF(dout), lse, dvec,
                                                                         T, C, NH, sl2, scale);
        if ((r = cudaGetLastError()) != cudaSuccess) return r;
        tl_attn_plain_dkdv_kernel<<<dim3(T, B * NH), PL_THREADS, smem, s>>>(TL_BF(dqkv), TL_CBF(qkv), TL_CBF(dout), lse,
                                                                           dvec, T, C, NH, sl2, scale);
    }
    return cudaGetLastError();
}
