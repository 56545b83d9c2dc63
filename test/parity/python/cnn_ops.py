"""PyTorch side of test/parity/cnn-ops.test.ts: reads inputs (.npy) from argv[1], writes outputs there.

Everything runs in float32 on the CPU, as CXR does; gradients come from torch.autograd.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]


def inp(name, grad=False):
    t = torch.from_numpy(np.load(os.path.join(d, name + '.npy')))
    if grad:
        t.requires_grad_(True)
    return t


def out(name, t):
    np.save(os.path.join(d, name + '.out.npy'), t.detach().numpy())


torch.manual_seed(0)

# --- pooling ---------------------------------------------------------------------------------
for tag, kw in [('max_k3s2p1', dict(kernel_size=3, stride=2, padding=1)),
                ('max_k2s2_ceil', dict(kernel_size=2, stride=2, ceil_mode=True)),
                ('max_k3s1p1d2', dict(kernel_size=3, stride=1, padding=1, dilation=2))]:
    x = inp('pool_x', True)
    y, idx = F.max_pool2d(x, return_indices=True, **kw)
    dy = inp(tag + '_dy')
    y.backward(dy)
    out(tag, y); out(tag + '_idx', idx.to(torch.int32)); out(tag + '_dx', x.grad)

for tag, kw in [('avg_k3s2p1', dict(kernel_size=3, stride=2, padding=1)),
                ('avg_k3s2p1_excl_ceil', dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True))]:
    x = inp('pool_x', True)
    y = F.avg_pool2d(x, **kw)
    y.backward(inp(tag + '_dy'))
    out(tag, y); out(tag + '_dx', x.grad)

for tag, xname, size in [('adaptive7', 'pool_x', 7), ('adaptive1', 'pool_x', 1), ('adaptive7_id', 'pool_x7', 7)]:
    x = inp(xname, True)
    y = F.adaptive_avg_pool2d(x, size)
    y.backward(inp(tag + '_dy'))
    out(tag, y); out(tag + '_dx', x.grad)

# --- batch norm: a module trained for two steps, then eval ------------------------------------
bn = torch.nn.BatchNorm2d(5)
with torch.no_grad():
    bn.weight.copy_(inp('bn_w')); bn.bias.copy_(inp('bn_b'))
    bn.running_mean.copy_(inp('bn_rm')); bn.running_var.copy_(inp('bn_rv'))
bn.train()
bn(inp('bn_x1'))
x = inp('bn_x2', True)
y = bn(x)
y.backward(inp('bn_dy'))
out('bn_train', y); out('bn_train_dx', x.grad); out('bn_train_dw', bn.weight.grad); out('bn_train_db', bn.bias.grad)
out('bn_rm', bn.running_mean); out('bn_rv', bn.running_var)
bn.eval(); bn.weight.grad = None; bn.bias.grad = None
x = inp('bn_x1', True)
y = bn(x)
y.backward(inp('bn_dy'))
out('bn_eval', y); out('bn_eval_dx', x.grad); out('bn_eval_dw', bn.weight.grad); out('bn_eval_db', bn.bias.grad)

# --- losses ----------------------------------------------------------------------------------
labels = inp('ce_labels').long()
for tag, kw in [('ce_plain', {}), ('ce_weighted_smooth', dict(weight=inp('ce_w'), label_smoothing=0.1)),
                ('ce_weighted_sum', dict(weight=inp('ce_w'), reduction='sum')),
                ('ce_smooth_none', dict(label_smoothing=0.2, reduction='none'))]:
    z = inp('ce_z', True)
    loss = F.cross_entropy(z, labels, **kw)
    if loss.dim() == 0:
        loss.backward()
    else:
        loss.backward(inp('ce_gnone'))
    out(tag, loss); out(tag + '_dz', z.grad)

for tag, kw in [('bce_plain', {}), ('bce_pw', dict(pos_weight=inp('bce_pw')))]:
    z = inp('bce_z', True)
    loss = F.binary_cross_entropy_with_logits(z, inp('bce_t'), **kw)
    loss.backward()
    out(tag, loss); out(tag + '_dz', z.grad)
print('ok')
