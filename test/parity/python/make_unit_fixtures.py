"""Regenerates the small checked-in fixtures of packages/models/test/fixtures.

Run: /usr/bin/python3 test/parity/python/make_unit_fixtures.py packages/models/test/fixtures
They are committed so the unit tests need no Python; the parity tests redo this live at scale.
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import torch_formats  # noqa: E402


def odd_state_dict():
    """Every case a reader must get right, in a few hundred bytes."""
    base = torch.arange(10, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd['w'] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7
    sd['t'] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()  # non-contiguous, stride (1, 4)
    sd['a'] = base[2:6]  # shares a storage with b, at offset 2
    sd['b'] = base[5:]  # ... and overlaps a
    sd['h'] = torch.tensor([1.5, -2.25, 65504.0, 2.0 ** -24], dtype=torch.float16)
    sd['bf'] = torch.tensor([1.0 / 3, -1e30], dtype=torch.bfloat16)
    sd['n'] = torch.tensor(7, dtype=torch.int64)  # like num_batches_tracked: a 0-d int64
    sd['big'] = torch.tensor([2 ** 40 + 1, -3], dtype=torch.int64)
    sd['d'] = torch.tensor([0.1, -1e300], dtype=torch.float64)
    sd['m'] = torch.tensor([True, False, True])
    sd['i32'] = torch.tensor([-5, 2 ** 31 - 1], dtype=torch.int32)
    sd['e'] = torch.zeros(0, 3)
    sd['p'] = torch.nn.Parameter(torch.tensor([[1.0, 2.0]]))  # saved via _rebuild_parameter
    sd._metadata = collections.OrderedDict([('', {'version': 1}), ('layer', {'version': 2})])
    return sd


def expected_json(sd):
    out = collections.OrderedDict()
    for k, v in sd.items():
        v = v.detach()
        if v.dtype in (torch.float16, torch.bfloat16):
            vals = v.float().reshape(-1).tolist()
        elif v.dtype == torch.int64:
            vals = [str(x) for x in v.reshape(-1).tolist()]  # beyond 2^53 in general
        elif v.dtype == torch.bool:
            vals = [int(x) for x in v.reshape(-1).tolist()]
        else:
            vals = v.reshape(-1).tolist()
        out[k] = dict(dtype=str(v.dtype).replace('torch.', ''), shape=list(v.shape), values=vals)
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > /tmp/cxr-pwned',))


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    sd = odd_state_dict()
    paths = torch_formats.save_all_formats(sd, os.path.join(out_dir, 'odd'))
    plain = collections.OrderedDict((k, v.detach()) for k, v in sd.items())  # tar stores plain tensors
    for p in paths.values():
        torch_formats.assert_loads_back(plain, p)
    with open(os.path.join(out_dir, 'odd_expected.json'), 'w') as f:
        json.dump(expected_json(sd), f)
    torch.save({'epoch': 3, 'state_dict': collections.OrderedDict(w=torch.ones(2))}, os.path.join(out_dir, 'training_zip.pth'))
    torch.save({'w': torch.ones(1), 'evil': Evil()}, os.path.join(out_dir, 'evil_zip.pth'))
    torch.save({'w': torch.ones(1), 'evil': Evil()}, os.path.join(out_dir, 'evil_legacy.pth'),
               _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Linear(1, 1), os.path.join(out_dir, 'module_legacy.pth'), _use_new_zipfile_serialization=False)
    extra_fixtures(out_dir)


def extra_fixtures(out_dir):
    # 759 bytes that claim 1.6e9 elements (one stored zero, stride 0), next to a small broadcast.
    torch.save({'small': torch.arange(3.0).expand(4, 3), 'w': torch.zeros(1).expand(40000, 40000)},
               os.path.join(out_dir, 'expanded_zip.pth'))
    # What a diverged run leaves: a Linear(5, 3) state dict whose weight is NaN and bias +inf.
    torch.save(collections.OrderedDict(weight=torch.full((3, 5), float('nan')), bias=torch.full((3,), float('inf'))),
               os.path.join(out_dir, 'nonfinite_zip.pth'))


if __name__ == '__main__':
    main(sys.argv[1])
