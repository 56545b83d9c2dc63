// PyTorch loading CXR's trained file: `cxr train` writes model.safetensors; the Python block of
// packages/models/README.md (run exactly as written there, so the README cannot rot) rebuilds the
// torchvision model from the file's metadata, loads the weights strictly and must give CXR's logits
// on the same input. Heads the tiny run does not use (mlp with two hidden widths, extend) are
// checked on files written with the same metadata from in-process models.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { synthesizeDataset } from '@cxr/data';
import { applyHead, createModel, encodeModelInfo, loadWeights, readModelInfo, writeSafetensorsFile, type HostTensor, type ModelInfo } from '@cxr/models';
import { readNpy, writeNpy } from './npy.ts';
import { parityTempDir, requireOrSkip, runPython } from './python.ts';

const have = await requireOrSkip('trained model in PyTorch (torch, torchvision)');
const root = resolve(import.meta.dirname, '../..');

/** The python block right after the marker comment in the models README. */
function readmeSnippet(): string {
  const readme = readFileSync(join(root, 'packages/models/README.md'), 'utf8');
  const at = readme.indexOf('<!-- torch-load-snippet');
  const m = /```python\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('packages/models/README.md: the torch-load-snippet python block is missing');
  return m[1];
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Logits of the file as CXR loads it (model rebuilt from the metadata alone) on a random batch. */
async function cxrLogits(file: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const info = readModelInfo(file)!;
  const model = createModel(info.arch);
  applyHead(model, info.head, info.classes.length);
  await loadWeights(model, file);
  model.eval();
  const input = T.tensor(x, shape);
  const out = T.scope(() => model.forward(input));
  const logits = await out.toArray();
  for (const t of [input, out]) t.dispose();
  model.dispose();
  return logits;
}

/** PyTorch's logits through the README's load_cxr_model. */
async function torchLogits(dir: string, file: string, xPath: string): Promise<{ logits: Float32Array; classes: string[] }> {
  const script = join(dir, 'load_with_readme.py');
  writeFileSync(
    script,
    `${readmeSnippet()}
import sys, numpy as np
model, meta = load_cxr_model(sys.argv[1])
x = torch.from_numpy(np.load(sys.argv[2]))
with torch.no_grad():
    np.save(sys.argv[3], model(x).numpy())
print(json.dumps({'classes': json.loads(meta['cxr.classes'])}))
`,
  );
  const out = join(dir, 'torch-logits.npy');
  const printed = JSON.parse((await runPython(script, [file, xPath, out], { timeoutMs: 300_000 })).trim().split('\n').at(-1)!);
  return { logits: readNpy(out).data as Float32Array, classes: printed.classes };
}

function randomInput(n: number, size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return x;
}

describe.runIf(have)("PyTorch loads CXR's trained model.safetensors", () => {
  let dir: string;
  beforeAll(async () => {
    dir = parityTempDir('trained');
    await T.getDevice();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await T.destroyDevice();
  });

  it('a file written by `cxr train` gives the same logits in torchvision', async () => {
    await synthesizeDataset({ out: join(dir, 'data'), perClass: 8, size: 40, seed: 2 });
    const r = spawnSync(
      join(root, 'node_modules/.bin/tsx'),
      [
        join(root, 'packages/cli/src/main.ts'),
        'train',
        '--data',
        join(dir, 'data'),
        '--out',
        join(dir, 'run'),
        '--arch',
        'resnet18',
        '--weights',
        'none',
        '--image-size',
        '32',
        '--epochs',
        '1',
        '--batch-size',
        '8',
        '--seed',
        '5',
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, CXR_CACHE: join(dir, 'cache') },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const file = join(dir, 'run', 'model.safetensors');
    const info = readModelInfo(file)!;
    expect(info).toMatchObject({
      arch: 'resnet18',
      head: 'replace',
      classes: ['infected', 'normal'],
      positiveClass: 'infected',
      inputSize: 32,
      resizeFilter: 'bicubic',
    });
    const shape = [3, 3, 32, 32];
    const x = randomInput(3, 32, 11);
    const xPath = join(dir, 'x.npy');
    writeNpy(xPath, { dtype: 'float32', shape, data: x });
    const ours = await cxrLogits(file, x, shape);
    const torch = await torchLogits(dir, file, xPath);
    expect(torch.classes).toEqual(info.classes);
    const err = relErr(torch.logits, ours);
    console.log(`cxr train resnet18 (replace head) in PyTorch: logits rel. error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });

  it.each(['mlp:16,8', 'extend'])('head %s rebuilds in PyTorch from the metadata', async (head) => {
    const model = createModel('resnet18', { generator: new T.Generator(7) });
    applyHead(model, head, 3, new T.Generator(8));
    model.eval();
    const host = new Map<string, HostTensor>();
    for (const [k, t] of model.stateDict()) {
      host.set(
        k,
        t.dtype === 'int32'
          ? { dtype: 'int32', shape: [...t.shape], data: await t.toInt32Array() }
          : { dtype: 'float32', shape: [...t.shape], data: await t.toArray() },
      );
    }
    const info: ModelInfo = {
      arch: 'resnet18',
      head,
      classes: ['covid-19', 'normal', 'pneumonia'],
      positiveClass: null,
      inputSize: 32,
      resizeSize: 37,
      resizeFilter: 'bicubic',
      crop: 'center',
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      channels: 'grey-to-rgb',
      version: 'test',
    };
    const file = join(dir, `${head.replace(/[:,]/g, '_')}.safetensors`);
    writeSafetensorsFile(file, host, encodeModelInfo(info));
    model.dispose();
    const shape = [2, 3, 32, 32];
    const x = randomInput(2, 32, 3);
    const xPath = join(dir, `x-${head.replace(/[:,]/g, '_')}.npy`);
    writeNpy(xPath, { dtype: 'float32', shape, data: x });
    const ours = await cxrLogits(file, x, shape);
    const torch = await torchLogits(dir, file, xPath);
    expect(torch.logits.length).toBe(6);
    const err = relErr(torch.logits, ours);
    console.log(`resnet18 head ${head} in PyTorch: logits rel. error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });
});
