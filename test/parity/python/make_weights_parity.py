"""Writes the checkpoints for test/parity/weights.test.ts.

usage: make_weights_parity.py OUT_DIR MARKER_PATH

OUT_DIR/<set>_{zip,legacy,tar}.pth   torchvision resnet18() (seed 0) and the odd-cases dict
OUT_DIR/<set>_manifest.json          [{name, dtype, shape, file}] in state-dict order
OUT_DIR/npy/<set>/<i>.npy            each tensor's values (half types widened to float32)
OUT_DIR/evil_{zip,legacy}.pth        a pickle whose loading would create MARKER_PATH
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

import make_unit_fixtures
import torch_formats


def dump(sd, out_dir, name):
    os.makedirs(os.path.join(out_dir, 'npy', name), exist_ok=True)
    manifest = []
    for i, (k, v) in enumerate(sd.items()):
        v = v.detach()
        arr = (v.float() if v.dtype in (torch.float16, torch.bfloat16) else v).contiguous().numpy()
        f = os.path.join('npy', name, f'{i}.npy')
        np.save(os.path.join(out_dir, f), arr)
        manifest.append(dict(name=k, dtype=str(v.dtype).replace('torch.', ''), shape=list(v.shape), file=f))
    with open(os.path.join(out_dir, f'{name}_manifest.json'), 'w') as fh:
        json.dump(manifest, fh)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def main(out_dir, marker):
    torch.manual_seed(0)
    t0 = time.time()
    sets = {
        'resnet18': torchvision.models.resnet18().state_dict(),
        'odd': make_unit_fixtures.odd_state_dict(),
    }
    for name, sd in sets.items():
        paths = torch_formats.save_all_formats(sd, os.path.join(out_dir, name))
        torch_formats.assert_loads_back({k: v.detach() for k, v in sd.items()}, paths['tar'])
        dump(sd, out_dir, name)
    evil = {'w': torch.ones(1), 'evil': Evil(marker)}
    torch.save(evil, os.path.join(out_dir, 'evil_zip.pth'))
    torch.save(evil, os.path.join(out_dir, 'evil_legacy.pth'), _use_new_zipfile_serialization=False)
    print(json.dumps(dict(seconds=time.time() - t0, torch=torch.__version__)))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
