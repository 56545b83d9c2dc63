"""Independent safetensors reader (numpy + json only, following the published format) that checks
a file CXR wrote against the PyTorch checkpoint it came from, exactly and in order.

usage: check_safetensors.py FILE.safetensors REFERENCE.pth   -> prints "ok <count>"
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {'F64': np.float64, 'F32': np.float32, 'F16': np.float16, 'BF16': np.uint16, 'I64': np.int64,
          'I32': np.int32, 'I16': np.int16, 'I8': np.int8, 'U8': np.uint8, 'BOOL': np.bool_}


def main(path, ref_path):
    data = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    assert (8 + n) % 8 == 0, 'data not 8-byte aligned'
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    body = data[8 + n:]
    ref = torch.load(ref_path)
    names = sorted(header, key=lambda k: header[k]['data_offsets'][0])
    assert names == list(ref.keys()), 'names or order differ'
    for k in names:
        h = header[k]
        b, e = h['data_offsets']
        arr = np.frombuffer(body[b:e], dtype=DTYPES[h['dtype']]).reshape(h['shape'])
        want = ref[k].detach()
        if h['dtype'] == 'BF16':
            got = torch.from_numpy((arr.astype(np.uint32) << 16).view(np.float32).copy())
            assert want.dtype == torch.bfloat16 and torch.equal(got, want.float()), k
        else:
            got = torch.from_numpy(arr.copy())
            assert got.dtype == want.dtype, (k, got.dtype, want.dtype)
            assert torch.equal(got, want), k
    assert sum(header[k]['data_offsets'][1] - header[k]['data_offsets'][0] for k in names) == len(body)
    print('ok', len(names))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
