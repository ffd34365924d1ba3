"""Independent Q8_0 / Q4_0 quantizer for test_quant, written from the block layouts (llama.cpp's
reference quantizer: f32 arithmetic, x * (1/d), round half away from zero for Q8_0, truncation of
x/d + 8.5 capped at 15 for Q4_0), with numpy; nothing from tinyllm.

usage: quant_ref.py IN.f32 N_PER_ROW OUT_Q8_0 OUT_Q4_0"""
import sys
import numpy as np

x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 32)
f32 = np.float32
q8, q4 = bytearray(), bytearray()
for b in x:
    amax = np.max(np.abs(b))
    d = f32(amax / f32(127))
    idv = f32(1) / d if d != 0 else f32(0)
    v = (b * idv).astype(np.float32)
    q = (np.sign(v) * np.floor(np.abs(v) + f32(0.5))).astype(np.int8)
    q8 += np.float16(d).tobytes() + q.tobytes()
    k = int(np.argmax(np.abs(b)))  # first index of the largest |x|
    m = b[k] if amax > 0 else f32(0)
    d = f32(m / f32(-8))
    idv = f32(1) / d if d != 0 else f32(0)
    xi = np.minimum(15, np.trunc((b * idv).astype(np.float32) + f32(8.5)).astype(np.int32))
    q4 += np.float16(d).tobytes() + bytes(int(xi[j]) | int(xi[j + 16]) << 4 for j in range(16))
open(sys.argv[3], "wb").write(bytes(q8))
open(sys.argv[4], "wb").write(bytes(q4))
