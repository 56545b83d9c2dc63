import { getDevice, destroyDevice, randn, randint, argmax, eq, cast, mean, scope, Generator } from '@cxr/tensor';
import {
  Sequential,
  Conv2d,
  BatchNorm2d,
  ReLU,
  MaxPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Dropout,
  Linear,
  crossEntropy,
  SGD,
  CosineAnnealingLR,
  LinearWarmup,
  clipGradNorm,
  noGrad,
  detach,
} from '@cxr/nn';

await getDevice();
const gen = new Generator(0); // seeded: same init and data every run
const model = new Sequential(
  new Conv2d(3, 8, 3, { padding: 1, generator: gen }),
  new BatchNorm2d(8),
  new ReLU(),
  new MaxPool2d(2),
  new Conv2d(8, 16, 3, { padding: 1, generator: gen }),
  new BatchNorm2d(16),
  new ReLU(),
  new AdaptiveAvgPool2d(1),
  new Flatten(),
  new Dropout(0.1, gen),
  new Linear(16, 2, { generator: gen }),
);
model.freeze('0'); // e.g. keep the first conv fixed: no grad, no update
const x = randn([16, 3, 16, 16], { generator: gen });
const y = randint(0, 2, [16], { generator: gen });
const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
const sched = new LinearWarmup(opt, { steps: 3, after: new CosineAnnealingLR(opt, { tMax: 17 }) });
for (let step = 0; step < 20; step++) {
  const logits = model.forward(x);
  const kept = detach(logits); // survives backward (the graph's own tensors are freed by it)
  const loss = crossEntropy(logits, y);
  loss.backward();
  clipGradNorm(model.parameters(), 5).dispose();
  opt.step();
  opt.zeroGrad();
  sched.step();
  const acc = scope(() => mean(cast(eq(cast(argmax(kept, 1), 'float32'), cast(y, 'float32')), 'float32')));
  if (step % 5 === 4) console.log(`step ${step + 1} loss ${(await loss.item()).toFixed(4)} acc ${(await acc.item()).toFixed(2)}`);
  for (const t of [loss, kept, acc]) t.dispose();
}
model.eval();
const logits = noGrad(() => scope(() => model.forward(x))); // eval: nothing recorded, temporaries freed
console.log(
  'eval logits',
  Array.from(await logits.toArray())
    .slice(0, 4)
    .map((v) => v.toFixed(3))
    .join(' '),
);
for (const t of [logits, x, y]) t.dispose();
opt.dispose();
model.dispose();
await destroyDevice();
