"""Reference for test/parity/models.test.ts: a torchvision model with random init (seed 0),
saved as a zip and a legacy checkpoint, its eval logits on a random batch, and one training step
(train mode, dropout off so both sides are deterministic): loss and selected gradients, computed
in float64 (the truth both float32 implementations are measured against) and in float32 (to
report PyTorch's own float32 error next to ours).
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
torch32 = {}
for name in layers:
    g64 = p64[name].grad
    np.save(f"{out}/grad-{name}.npy", g64.numpy())
    torch32[name] = ((p32[name].grad.double() - g64).norm() / g64.norm()).item()
buffers = dict(model.named_buffers())
stats = {k: v.numpy() for k, v in buffers.items() if k.endswith("running_mean")}
for k, v in list(stats.items())[:2]:
    np.save(f"{out}/buf-{k}.npy", v)
print(json.dumps({"loss": loss64, "loss32": loss32, "torch32": torch32, "buffers": list(stats.keys())[:2]}))
