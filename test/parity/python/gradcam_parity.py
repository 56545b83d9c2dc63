"""Reference for test/parity/gradcam.test.ts: Grad-CAM with PyTorch forward/backward hooks, the
usual way (pytorch-grad-cam's recipe): capture the target layer's output with a forward hook and
its gradient with a tensor hook, weight channels by the spatially averaged gradient, ReLU,
bilinear resize to the input (align_corners=False), then (m - min) / (max - min + 1e-7) per image.
Random init (seed 0), a random Bx3x224x224 batch, each image's argmax class. Also reports how far
PyTorch's own float32 maps are from float64 ones.
usage: gradcam_parity.py ARCH LAYER OUTDIR BATCH"""
import copy
import json
import sys
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

arch, layer, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.manual_seed(0)
model = getattr(torchvision.models, arch)().eval()
torch.save(model.state_dict(), f"{out}/model.pth")
g = torch.Generator().manual_seed(1)
x = torch.randn(batch, 3, 224, 224, generator=g)
np.save(f"{out}/x.npy", x.numpy())


def grad_cam(m, inp, classes=None):
    store = {}
    target = m.get_submodule(layer)

    def hook(_mod, _inp, output):
        store["act"] = output
        output.register_hook(lambda gr: store.__setitem__("grad", gr))

    h = target.register_forward_hook(hook)
    logits = m(inp)
    h.remove()
    if classes is None:
        classes = logits.argmax(1)
    m.zero_grad()
    logits.gather(1, classes[:, None]).sum().backward()
    act, grad = store["act"].detach(), store["grad"]
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=inp.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    lo = cam.amin(dim=(1, 2), keepdim=True)
    hi = cam.amax(dim=(1, 2), keepdim=True)
    return (cam - lo) / (hi - lo + 1e-7), classes


maps, classes = grad_cam(model, x)
np.save(f"{out}/maps.npy", maps.detach().numpy())
# float64 costs minutes for VGG16 on a CPU; ResNet-18 alone shows PyTorch's own float32 error.
own = None
if arch.startswith("resnet"):
    maps64, _ = grad_cam(copy.deepcopy(model).double(), x.double(), classes)
    own = (maps.double() - maps64).abs().max().item()
nonzero = [(m > 0.05).double().mean().item() for m in maps]
print(json.dumps({"classes": classes.tolist(), "torch32_vs_64_maxabs": own, "coverage": nonzero}))
