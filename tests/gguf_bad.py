# Hand-made GGUF files for the reader's bad-file table, written by this independent writer:
# python3 gguf_bad.py OUTDIR  ->  OUTDIR/<case>.gguf and OUTDIR/cases.tsv (case <TAB> expected message).
import struct, sys, os

def s(b): return struct.pack("<Q", len(b)) + b
def kv_u32(k, v): return s(k) + struct.pack("<II", 4, v)
def kv_str(k, v): return s(k) + struct.pack("<I", 8) + s(v)
def tinfo(name, dims, typ, off): return s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)

def gguf(kvs, tensors, data=b"\0" * 64, version=3, magic=b"GGUF", n_kv=None, n_t=None, align=32):
    head = magic + struct.pack("<IQQ", version, len(tensors) if n_t is None else n_t, len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tensors)
    pad = (-len(body)) % align
    return body + b"\0" * pad + data

A = [kv_str(b"general.architecture", b"gpt2")]
T = [tinfo(b"a", [4], 0, 0), tinfo(b"b", [8], 0, 32)]
cases = {
    "magic": (gguf(A, T, magic=b"GGUX"), "not a GGUF file"),
    "version2": (gguf(A, T, version=2), "GGUF version 2 is not supported"),
    "empty": (b"", "truncated"),
    "header_cut": (b"GGUF\x03\0\0\0\0", "truncated"),
    "kv_count": (gguf(A, T, n_kv=1 << 60), "cannot fit in a"),
    "tensor_count": (gguf(A, T, n_t=1 << 40), "cannot fit in a"),
    "key_empty": (gguf([s(b"") + struct.pack("<II", 4, 1)], T), "key length 0"),
    "key_past_end": (gguf([struct.pack("<Q", 1 << 40)], []), "truncated"),
    "string_past_end": (gguf([s(b"k") + struct.pack("<IQ", 8, 1 << 50)], []), "truncated"),
    "value_type": (gguf([s(b"k") + struct.pack("<II", 99, 0)], T), "unknown value type 99"),
    "nested_array": (gguf([s(b"k") + struct.pack("<IIQ", 9, 9, 1)], T), "nested arrays"),
    "array_count": (gguf([s(b"k") + struct.pack("<IIQ", 9, 4, 1 << 61)], T), "cannot fit in the"),
    "string_array_count": (gguf([s(b"k") + struct.pack("<IIQ", 9, 8, 1 << 61)], T), "strings cannot fit"),
    "bool": (gguf([s(b"k") + struct.pack("<IB", 7, 2)], T), "bool value 2"),
    "dup_key": (gguf(A + A, T), "appears twice"),
    "alignment_type": (gguf(A + [s(b"general.alignment") + struct.pack("<IQ", 10, 32)], T), "general.alignment must be"),
    "alignment_pow2": (gguf(A + [kv_u32(b"general.alignment", 24)], T), "general.alignment must be"),
    "name_empty": (gguf(A, [tinfo(b"", [4], 0, 0)]), "name length 0"),
    "name_long": (gguf(A, [tinfo(b"x" * 64, [4], 0, 0)]), "name length 64"),
    "dims0": (gguf(A, [tinfo(b"a", [], 0, 0)]), "0 dimensions"),
    "dims5": (gguf(A, [tinfo(b"a", [1, 1, 1, 1, 1], 0, 0)]), "5 dimensions"),
    "dim_zero": (gguf(A, [tinfo(b"a", [4, 0], 0, 0)]), "is zero or makes the element count overflow"),
    "dim_overflow": (gguf(A, [tinfo(b"a", [1 << 30, 1 << 30, 1 << 30], 0, 0)]), "is zero or makes the element count overflow"),
    "ggml_type": (gguf(A, [tinfo(b"a", [4], 77, 0)]), "ggml type 77 is unknown"),
    "q8_ragged": (gguf(A, [tinfo(b"a", [31], 8, 0)]), "ggml type 8 is unknown or its rows"),
    "q6_k": (gguf(A, [tinfo(b"a", [256], 14, 0)]), "is q6_K (ggml type 14), which tinyllm does not read"),
    "misaligned": (gguf(A, [tinfo(b"a", [4], 0, 4)]), "is not a multiple of the alignment"),
    "past_end": (gguf(A, [tinfo(b"a", [1024], 0, 0)]), "run past the end of the file"),
    "offset_huge": (gguf(A, [tinfo(b"a", [4], 0, 1 << 62)]), "run past the end of the file"),
    "overlap": (gguf(A, [tinfo(b"a", [16], 0, 0), tinfo(b"b", [4], 0, 32)], data=b"\0" * 128), "overlap"),
    "dup_tensor": (gguf(A, [tinfo(b"a", [4], 0, 0), tinfo(b"a", [4], 0, 32)]), "tensor 'a' appears twice"),
    "not_gpt2": (gguf([kv_str(b"general.architecture", b"llama")], T), "general.architecture is 'llama', and tinyllm runs only 'gpt2'"),
    "no_config": (gguf(A, T), "key gpt2.context_length is missing"),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "cases.tsv"), "w") as f:
    for name, (data, want) in cases.items():
        open(os.path.join(out, name + ".gguf"), "wb").write(data)
        f.write("%s\t%s\n" % (name, want))
