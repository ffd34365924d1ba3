"""Independent check of tinyllm checkpoint files (no tinyllm code): the safetensors layout is
complete (8-byte header length, JSON header, tensors tiling the data up to the file's end), the
metadata names a tinyllm checkpoint whose step matches the file name, and every F32 value, the
AdamW moments included, is finite.

    python3 ckpt_check.py FILE...      prints one line per file, exit 1 on the first bad one
"""
import json
import os
import re
import struct
import sys

import numpy as np


def check(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read()
    if size < 8:
        return "shorter than the 8-byte header length"
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > size:
        return f"header length {n} runs past the file ({size} bytes)"
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {})
    if meta.get("format") != "tinyllm.checkpoint":
        return "metadata format is not tinyllm.checkpoint"
    m = re.search(r"step_(\d{8})\.safetensors$", path)
    if m and int(meta.get("step", -1)) != int(m.group(1)):
        return f"metadata step {meta.get('step')} but the name says {m.group(1)}"
    data = raw[8 + n:]
    spans = sorted((t["data_offsets"][0], t["data_offsets"][1], name) for name, t in head.items())
    at = 0
    for b, e, name in spans:
        if b != at:
            return f"tensor {name} starts at {b}, the previous one ended at {at}"
        t = head[name]
        if t["dtype"] != "F32" or (e - b) != 4 * int(np.prod(t["shape"], dtype=np.int64)):
            return f"tensor {name}: dtype {t['dtype']}, {e - b} bytes for shape {t['shape']}"
        v = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=b)
        if not np.isfinite(v).all():
            return f"tensor {name} holds {int((~np.isfinite(v)).sum())} non-finite values"
        at = e
    if at != len(data):
        return f"{len(data) - at} bytes after the last tensor (truncated or corrupt)"
    return None


for p in sys.argv[1:]:
    why = check(p)
    print(f"{p}: {'ok' if why is None else why}")
    if why is not None:
        sys.exit(1)
