/**
 * PyTorch's epochs on an image folder, for comparing with `startup.ts --data DIR` in the same
 * session: torchvision's ImageFolder + DataLoader (one worker, as the CLI uses on a CPU adapter)
 * decoding the original files every epoch (PyTorch has no decoded-image cache), the same
 * transforms as CXR's (RandomResizedCrop, RandomRotation 30, horizontal flip for training;
 * Resize 73 + CenterCrop 64 for validation, grey expanded to RGB), ResNet-18 from random init,
 * Adam 1e-3, batch 16, 2 threads; per epoch: training, validation, total seconds.
 * `pnpm exec tsx src/torch-epochs.ts --data DIR [--epochs 3] [--image-size 64]` (Debian's /usr/bin/python3)
 */
import { spawnSync } from 'node:child_process';

const data = option('--data');
if (!data) throw new Error('torch-epochs: give --data DIR (folders train/ and val/, one folder per class)');
const config = { data, epochs: Number(option('--epochs') ?? 3), size: Number(option('--image-size') ?? 64) };

const script = `
import json, os, sys, time
import torch, torchvision
from torchvision import transforms as T
c = json.loads(sys.argv[1])
torch.set_num_threads(2)
torch.manual_seed(0)
size = c['size']
rgb = lambda im: im.convert('RGB')
norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
train_t = T.Compose([rgb, T.RandomResizedCrop(size), T.RandomRotation(30), T.RandomHorizontalFlip(), T.ToTensor(), norm])
eval_t = T.Compose([rgb, T.Resize(round(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(), norm])
train = torchvision.datasets.ImageFolder(os.path.join(c['data'], 'train'), train_t)
val = torchvision.datasets.ImageFolder(os.path.join(c['data'], 'val'), eval_t)
tl = torch.utils.data.DataLoader(train, batch_size=16, shuffle=True, num_workers=1)
vl = torch.utils.data.DataLoader(val, batch_size=16, shuffle=False, num_workers=1)
model = torchvision.models.resnet18(num_classes=len(train.classes))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
rows = []
for epoch in range(c['epochs']):
    t0 = time.perf_counter()
    model.train()
    for x, y in tl:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    t1 = time.perf_counter()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in vl:
            correct += (model(x).argmax(1) == y).sum().item()
    t2 = time.perf_counter()
    rows.append({'epoch': epoch + 1, 'trainS': t1 - t0, 'valS': t2 - t1, 'totalS': t2 - t0, 'valAccuracy': correct / len(val)})
print(json.dumps({'torch': torch.__version__, 'train': len(train), 'val': len(val), 'rows': rows}))
`;
import { option } from './cliArgs.ts';
const r = spawnSync('/usr/bin/python3', ['-c', script, JSON.stringify(config)], { encoding: 'utf8', timeout: 30 * 60_000 });
if (r.status !== 0) throw new Error(`torch-epochs: python failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
  torch: string;
  train: number;
  val: number;
  rows: { epoch: number; trainS: number; valS: number; totalS: number; valAccuracy: number }[];
};
console.log(`PyTorch ${res.torch}, 2 threads, one loader worker; ${res.train} train / ${res.val} val images; ResNet-18 ${config.size}px batch 16 Adam`);
for (const row of res.rows)
  console.log(
    `epoch ${row.epoch}: ${row.totalS.toFixed(1)} s = training ${row.trainS.toFixed(1)} + validation ${row.valS.toFixed(1)} (val accuracy ${(row.valAccuracy * 100).toFixed(1)}%)`,
  );
