"""PyTorch side of test/parity/nn-train.test.ts.

Reads init/<name>.npy (a state_dict written by CXR), batches x<k>.npy / y<k>.npy and runs the
scenarios in scenarios.json: a small CNN (conv-bn-relu-pool x2, linear head), N training steps
with SGD or Adam, optionally with frozen parameters. Writes <scenario>/<name>.npy (final state)
and <scenario>/losses.npy.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(2)
d = sys.argv[1]
spec = json.load(open(os.path.join(d, 'scenarios.json')))


def build():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 2 * 2, 3),
    )


for sc in spec['scenarios']:
    model = build()
    sd = {}
    for k in model.state_dict().keys():
        a = np.load(os.path.join(d, 'init', k + '.npy'))
        sd[k] = torch.from_numpy(a.astype(np.int64) if k.endswith('num_batches_tracked') else a).reshape(model.state_dict()[k].shape)
    model.load_state_dict(sd, strict=True)
    model.train()
    frozen = sc.get('frozen', [])
    for n, p in model.named_parameters():
        if any(n == f or n.startswith(f + '.') for f in frozen):
            p.requires_grad_(False)
    params = [p for p in model.parameters()]
    if sc['opt'] == 'sgd':
        opt = torch.optim.SGD(params, lr=sc['lr'], momentum=sc['momentum'], weight_decay=sc['weightDecay'], nesterov=sc.get('nesterov', False))
    else:
        opt = torch.optim.Adam(params, lr=sc['lr'], weight_decay=sc['weightDecay'])
    losses = []
    for k in range(spec['steps']):
        x = torch.from_numpy(np.load(os.path.join(d, f'x{k}.npy')))
        y = torch.from_numpy(np.load(os.path.join(d, f'y{k}.npy')).astype(np.int64))
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    out = os.path.join(d, sc['name'])
    os.makedirs(out, exist_ok=True)
    for k, v in model.state_dict().items():
        np.save(os.path.join(out, k + '.npy'), v.numpy().astype(np.float32) if v.dtype != torch.int64 else v.numpy().astype(np.int32))
    np.save(os.path.join(out, 'losses.npy'), np.array(losses, dtype=np.float64))
