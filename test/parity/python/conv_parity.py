"""PyTorch side of test/parity/conv.test.ts: for each case in argv[1]/cases.json reads x, w, (b), dy
(.npy), runs F.conv2d in float32 on the CPU, backpropagates dy with torch.autograd and writes y, dx,
dw (and db) next to the inputs."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
torch.set_num_threads(2)


def load(name, grad=True):
    t = torch.from_numpy(np.load(os.path.join(d, name + '.npy')))
    return t.requires_grad_(grad)


def save(name, t):
    np.save(os.path.join(d, name + '.out.npy'), t.detach().numpy())


for c in json.load(open(os.path.join(d, 'cases.json'))):
    n = c['name']
    x, w, dy = load(n + '.x'), load(n + '.w'), load(n + '.dy', False)
    b = load(n + '.b') if c['bias'] else None
    y = F.conv2d(x, w, b, stride=c['stride'], padding=c['padding'], dilation=c['dilation'], groups=c['groups'])
    y.backward(dy)
    save(n + '.y', y)
    save(n + '.dx', x.grad)
    save(n + '.dw', w.grad)
    if b is not None:
        save(n + '.db', b.grad)
