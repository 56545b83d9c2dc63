"""Reference for test/parity/models.test.ts: a torchvision model with random init (seed 0),
saved as a zip and a legacy checkpoint, its eval logits on a random batch, and one training step
(train mode, dropout off so both sides are deterministic): loss and selected gradients, computed
in float64 (the truth both float32 implementations are measured against) and in float32 (to
report PyTorch's own float32 error next to ours); and float16 storage emulated in float64 (every
conv/linear input and output, a linear's bias, every activation and every stored gradient rounded
to float16, as --precision f16 stores them; weights stay float32, as in CXR; PyTorch 1.13 has no float16 convolutions on the CPU), the
yardstick for CXR's mixed-precision step.
usage: models_parity.py ARCH OUTDIR LAYER..."""
import copy
import sys, json
import numpy as np
import torch
import torchvision

arch, out, layers = sys.argv[1], sys.argv[2], sys.argv[3:]
torch.manual_seed(0)
model = getattr(torchvision.models, arch)()
sd = model.state_dict()
torch.save(sd, f"{out}/model-zip.pth")
torch.save(sd, f"{out}/model-legacy.pth", _use_new_zipfile_serialization=False)

g = torch.Generator().manual_seed(1)
x = torch.randn(2, 3, 224, 224, generator=g)
y = torch.tensor([3, 7])
np.save(f"{out}/x.npy", x.numpy())
model.eval()
with torch.no_grad():
    np.save(f"{out}/logits.npy", model(x).numpy())

model64 = copy.deepcopy(model).double()
model16 = copy.deepcopy(model).double()


class RoundF16(torch.autograd.Function):
    """Rounds to float16 and back, both ways: a stored activation and its stored gradient."""

    @staticmethod
    def forward(ctx, t):
        return t.half().double()

    @staticmethod
    def backward(ctx, grad):
        return grad.half().double()


class RoundParam(torch.nn.Module):
    def forward(self, w):
        return RoundF16.apply(w)


def emulate_f16(m):
    import torch.nn.utils.parametrize as P
    stored = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.ReLU, torch.nn.MaxPool2d, torch.nn.AdaptiveAvgPool2d)
    for mod in list(m.modules()):
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            # CXR computes with the float32 weights as they are; a Linear's bias is added to the
            # float16 product in float16.
            mod.register_forward_pre_hook(lambda _m, inp: (RoundF16.apply(inp[0]),))
            if isinstance(mod, torch.nn.Linear) and mod.bias is not None:
                P.register_parametrization(mod, "bias", RoundParam())
        if isinstance(mod, stored):
            mod.register_forward_hook(lambda _m, _inp, out: RoundF16.apply(out))

def train_step(m, inp):
    m.train()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    loss = torch.nn.functional.cross_entropy(m(inp), y)
    loss.backward()
    return loss.item(), dict(m.named_parameters())

loss32, p32 = train_step(model, x)
loss64, p64 = train_step(model64, x.double())
emulate_f16(model16)
model16.train()
for mod in model16.modules():
    if isinstance(mod, torch.nn.Dropout):
        mod.p = 0.0
# Scaled by 1024 as CXR's parity step scales its loss, so that no stored gradient underflows.
loss16 = torch.nn.functional.cross_entropy(model16(x.double()), y)
(loss16 * 1024).backward()
g16 = {n: p.grad / 1024 for n, p in model16.named_parameters() if p.grad is not None}
torch32 = {}
torch16 = {}
for name in layers:
    g64 = p64[name].grad
    np.save(f"{out}/grad-{name}.npy", g64.numpy())
    torch32[name] = ((p32[name].grad.double() - g64).norm() / g64.norm()).item()
    # Parametrized modules name the master weight NAME.parametrizations.weight.original.
    key = name if name in g16 else name.rsplit(".", 1)[0] + ".parametrizations." + name.rsplit(".", 1)[1] + ".original"
    torch16[name] = ((g16[key] - g64).norm() / g64.norm()).item()
buffers = dict(model.named_buffers())
stats = {k: v.numpy() for k, v in buffers.items() if k.endswith("running_mean")}
for k, v in list(stats.items())[:2]:
    np.save(f"{out}/buf-{k}.npy", v)
print(json.dumps({"loss": loss64, "loss32": loss32, "loss16": loss16.item(), "torch32": torch32, "torch16": torch16, "buffers": list(stats.keys())[:2]}))
