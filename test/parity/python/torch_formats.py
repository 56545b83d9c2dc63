"""Writers for the torch.save layouts that torch 1.13 no longer produces by itself.

save_tar() reproduces the PyTorch <= 0.1.x tar layout exactly as that era's torch/serialization.py
`_save` wrote it (and as torch 1.13's `_legacy_load` still reads it): a PAX tar with entries
  sys_info  pickle of {protocol_version, little_endian, type_sizes}
  pickle    the object; each tensor replaced by BINPERSID with the string key of the tensor
  tensors   pickle(count), then per tensor pickle((key, storage_key, tensor_type)) followed by
            int32 ndim, 4 pad bytes, ndim int64 sizes, ndim int64 strides, int64 storage offset
  storages  pickle(count), then per storage pickle((key, location, storage_type)) followed by an
            int64 element count and the raw bytes, then pickle(list of views) (always [] here)
"""
import io
import os
import pickle
import struct
import tarfile
import tempfile

import torch

PROTOCOL = 2


def _storage_bytes(t):
    """Raw little-endian bytes of the whole storage behind `t` (dtype-agnostic)."""
    s = t.storage()
    full = torch.empty(0, dtype=t.dtype).set_(s, 0, (s.size(),), (1,))
    return full.view(torch.uint8).numpy().tobytes() if s.size() else b''


def save_tar(obj, path):
    tensors = {}   # key -> tensor
    storages = {}  # key -> (storage_type, example tensor)

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if torch.is_tensor(o):
                key = id(o)
                tensors[key] = o
                return str(key)
            return None

    pickled = io.BytesIO()
    Pickler(pickled, protocol=PROTOCOL).dump(obj)

    tensors_f = io.BytesIO()
    pickle.dump(len(tensors), tensors_f, protocol=PROTOCOL)
    for key, t in tensors.items():
        skey = t.storage().data_ptr() or id(t.storage())
        storages.setdefault(skey, t)
        pickle.dump((key, skey, t.type() and getattr(torch, t.type().split('.')[-1])), tensors_f, protocol=PROTOCOL)
        tensors_f.write(struct.pack('<i', t.dim()) + b'\0\0\0\0')
        tensors_f.write(struct.pack(f'<{t.dim()}q', *t.size()))
        tensors_f.write(struct.pack(f'<{t.dim()}q', *t.stride()))
        tensors_f.write(struct.pack('<q', t.storage_offset()))

    storages_f = io.BytesIO()
    pickle.dump(len(storages), storages_f, protocol=PROTOCOL)
    for skey, t in storages.items():
        storage_type = getattr(torch, t.storage().pickle_storage_type())
        pickle.dump((skey, 'cpu', storage_type), storages_f, protocol=PROTOCOL)
        storages_f.write(struct.pack('<q', t.storage().size()))
        storages_f.write(_storage_bytes(t))
    pickle.dump([], storages_f, protocol=PROTOCOL)

    sys_info = io.BytesIO()
    pickle.dump(dict(protocol_version=1001, little_endian=True,
                     type_sizes=dict(short=2, int=4, long=8)), sys_info, protocol=PROTOCOL)

    with tarfile.open(path, 'w:', format=tarfile.PAX_FORMAT) as tar:
        for name, buf in [('sys_info', sys_info), ('pickle', pickled), ('tensors', tensors_f), ('storages', storages_f)]:
            data = buf.getvalue()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def save_all_formats(obj, prefix):
    """Writes <prefix>_zip.pth, <prefix>_legacy.pth and <prefix>_tar.pth; returns the paths."""
    paths = {f: f'{prefix}_{f}.pth' for f in ('zip', 'legacy', 'tar')}
    torch.save(obj, paths['zip'])
    torch.save(obj, paths['legacy'], _use_new_zipfile_serialization=False)
    save_tar(obj, paths['tar'])
    return paths


def assert_loads_back(obj, path):
    """torch itself must read our hand-written file back to the same values."""
    back = torch.load(path)
    assert list(back.keys()) == list(obj.keys()), path
    for k, v in obj.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, (path, k)
        assert torch.equal(back[k], v), (path, k)
