// The viewer in a real browser: Debian's Chromium, headless, driven by playwright-core (no
// downloaded browser). It checks the page's probabilities against `cxr predict --json` in Node on
// three real X-rays (16-bit PNG, JPEG, 8-bit PNG), runs @cxr/tensor ops in the page against
// float64 references, and checks that nothing goes over the network after the page has loaded.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Generator, destroyDevice, getDevice, roundToHalf } from '@cxr/tensor';
import { applyHead, createModel, encodeDecisionRule, encodeModelInfo, writeSafetensorsFile, type HostTensor } from '@cxr/models';
import { startServer } from '../../cli/src/commands/serve.ts';
import { modelInfoFor } from '../../cli/src/train/modelFile.ts';
import { relErr } from '../../tensor/test/helpers.ts';
import { matmulRef } from '../../tensor/test/reference/matmul.ts';
import { refConv2d, refConv2dBackwardInput, refConv2dBackwardWeight, refGeom } from '../../tensor/test/reference/conv.ts';

/** Seeded values in [-1, 1) for the in-page kernel checks. */
function rand(n: number, seed: number): number[] {
  let a = seed;
  return Array.from({ length: n }, () => ((a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
}

/** The in-page conv checks' case: a 3x3 stride-2 conv over odd sizes, its input and weight from two seeds. */
function convCase(xSeed: number, wSeed: number) {
  const xs = [2, 5, 11, 13];
  const ws = [7, 5, 3, 3];
  const g = refGeom(xs, ws, { stride: [2, 2], padding: [1, 1] });
  const size = (shape: number[]) => shape.reduce((p, d) => p * d);
  return { xs, ws, g, ys: [g.N, g.O, g.OH, g.OW], X: rand(size(xs), xSeed), W: rand(size(ws), wSeed) };
}

const root = resolve(import.meta.dirname, '../../..');
const chromiumPath = '/usr/bin/chromium';
const real = resolve(root, '../shared/datasets/cxr-real');
const xrays = [
  'test/infected/ieee8023__23E99E2E-447C-46E5-8EB2-D35D12473C39.png', // 16-bit RGBA PNG
  'test/infected/ieee8023__16708_1_1.jpg', // RGB JPEG, 2x2 chroma subsampling
  'test/normal/nih__00001303_001.png', // 8-bit grey PNG
].map((f) => join(real, f));
const classes = ['infected', 'normal'];
const inputSize = 64;

/** An 8-bit grey PNG whose IDAT holds its zlib stream followed by 16 bytes of padding. */
function paddedPng(width: number, height: number): Buffer {
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = (x * 5 + y * 3) & 255;
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grey), no interlace
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.concat([deflateSync(raw), Buffer.alloc(16, 7)])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** In CI both must be there (setup installs Chromium; the data set sits beside the clone). */
function prerequisites(): string | null {
  const missing = [
    existsSync(chromiumPath) ? null : `${chromiumPath} (apt-get install chromium)`,
    xrays.every(existsSync) ? null : `the cxr-real X-rays under ${real}`,
  ].filter(Boolean);
  if (!missing.length) return null;
  const msg = `browser tests need ${missing.join(' and ')}`;
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`\n!! ${msg}: SKIPPED\n`);
  return msg;
}
const skip = prerequisites() !== null;

let work: string;
let server: Server;
let url: string;
let browser: Browser;
let page: Page;
const requestsAfterLoad: string[] = [];
const pageErrors: string[] = [];

/** A small model, generated deterministically: ResNet-18, seeded init, a 2-class head. */
async function writeModels(): Promise<{ withMetadata: string; bare: string; host: Map<string, HostTensor>; metadata: Record<string, string> }> {
  await getDevice();
  const model = createModel('resnet18', { generator: new Generator(5) });
  applyHead(model, 'replace', classes.length);
  const host = new Map<string, HostTensor>();
  for (const [k, t] of model.stateDict()) {
    host.set(
      k,
      t.dtype === 'int32'
        ? { dtype: 'int32', shape: [...t.shape], data: await t.toInt32Array() }
        : { dtype: 'float32', shape: [...t.shape], data: await t.toArray() },
    );
  }
  model.dispose();
  await destroyDevice();
  const withMetadata = join(work, 'model.safetensors');
  const bare = join(work, 'bare.safetensors');
  // The metadata `cxr train` writes into model.safetensors (cxr.* keys), with the preprocessing of
  // `cxr predict --weights` on the bare file (bilinear), which the page is compared against.
  const metadata = encodeModelInfo({ ...modelInfoFor({ arch: 'resnet18', head: 'replace', imageSize: inputSize }, classes, null), resizeFilter: 'bilinear' });
  writeSafetensorsFile(withMetadata, host, metadata);
  writeSafetensorsFile(bare, host);
  return { withMetadata, bare, host, metadata };
}

function cxr(args: string[]): string {
  const r = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'packages/cli/src/main.ts'), ...args], {
    cwd: work,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, CXR_CACHE: join(work, 'cache') },
  });
  if (r.status !== 0) throw new Error(`cxr ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

interface PageResult {
  file: string;
  probs: number[];
  label: string;
  /** The class the heat map explains. */
  camClass: string;
  logits?: number[];
  threshold?: number | null;
}

async function classifyInPage(files: string[]): Promise<PageResult[]> {
  const before = await page.locator('#results .result.done').count();
  await page.setInputFiles('#image-input', files);
  await page.waitForFunction((n) => document.querySelectorAll('#results .result.done, #results .result.failed').length >= n, before + files.length, {
    timeout: 600_000,
  });
  const failed = await page.locator('#results .result.failed').allTextContents();
  expect(failed).toEqual([]);
  return page.$$eval('#results .result.done', (items) =>
    items.map((li) => ({
      file: (li as HTMLElement).dataset.file!,
      probs: JSON.parse((li as HTMLElement).dataset.probs!) as number[],
      label: (li as HTMLElement).dataset.label!,
      camClass: (li as HTMLElement).dataset.camClass!,
    })),
  );
}

function expectClose(page: number[], node: number[], what: string, between = 'page vs Node'): void {
  expect(page.length, what).toBe(node.length);
  const rel = node.map((v, i) => Math.abs(page[i] - v) / Math.abs(v));
  console.log(`${what}: largest relative difference ${between} ${Math.max(...rel).toExponential(2)}`);
  for (let i = 0; i < node.length; i++) expect(rel[i], `${what}[${i}]: page ${page[i]}, node ${node[i]}`).toBeLessThan(1e-4);
}

describe.skipIf(skip)('the viewer page in Chromium', () => {
  let models: Awaited<ReturnType<typeof writeModels>>;
  let node: PageResult[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cxr-web-'));
    const build = spawnSync('pnpm', ['run', 'build'], { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`vite build failed: ${build.stdout}\n${build.stderr}`);
    models = await writeModels();
    // Node reads the same metadata: arch, head, classes and input size come from the file.
    node = JSON.parse(cxr(['predict', '--weights', models.withMetadata, '--json', ...xrays]));
    ({ url, server } = await startServer({ port: 0 }));
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
    page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    let loaded = false;
    page.on('load', () => {
      loaded = true;
    });
    page.on('request', (r) => {
      if (loaded) requestsAfterLoad.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  }, 1_200_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(null)));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs on WebGPU in the page and says which adapter', async () => {
    const status = await page.locator('#status').textContent();
    expect(status).toMatch(/^WebGPU adapter: \S/);
    expect(status).toMatch(/software adapter/); // SwiftShader here: the page says it is slow
  });

  it('reads arch, classes and preprocessing from the model file and matches cxr predict --json within 1e-4 on three real X-rays', async () => {
    await page.setInputFiles('#model-input', models.withMetadata);
    await page.waitForSelector('body[data-model="model.safetensors"]', { timeout: 300_000 });
    expect(await page.locator('#model-settings').isHidden()).toBe(true);
    expect(await page.locator('#model-info').textContent()).toContain('Settings fromthe model file');
    const results = await classifyInPage(xrays);
    for (const n of node) {
      const name = n.file.split('/').pop()!;
      const p = results.find((r) => r.file === name);
      expect(p, name).toBeDefined();
      expectClose(p!.probs, n.probs, name);
      expect(p!.label).toBe(n.label);
    }
    // Each result carries a Grad-CAM overlay (a map that is not flat), which the toggle hides and shows.
    expect(await page.locator('#results .result.done canvas.cam').count()).toBe(xrays.length);
    const spread = await page.$$eval('#results canvas.cam', (cs) =>
      cs.map((c) => {
        const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
        let lo = 255;
        let hi = 0;
        for (let i = 3; i < d.length; i += 4) {
          lo = Math.min(lo, d[i]);
          hi = Math.max(hi, d[i]);
        }
        return hi - lo;
      }),
    );
    for (const s of spread) expect(s).toBeGreaterThan(100);
    await page.click('#overlay-toggle');
    expect(await page.locator('#results canvas.cam').first().isHidden()).toBe(true);
    await page.click('#overlay-toggle');
    expect(await page.locator('#results canvas.cam').first().isVisible()).toBe(true);
    mkdirSync(join(root, '.cache'), { recursive: true });
    // The README's screenshot: written there when asked (CXR_UPDATE_SCREENSHOT=1), else kept under .cache/.
    const shot = process.env.CXR_UPDATE_SCREENSHOT === '1' ? resolve(import.meta.dirname, '../docs/screenshot.png') : join(root, '.cache/web-screenshot.png');
    writeFileSync(shot, await page.screenshot({ fullPage: true }));
  });

  it('decodes a PNG whose image data has bytes after the end of its zlib stream, as Node (and PIL) do', async () => {
    // Chromium's DecompressionStream fails on such padding, which zlib ignores: the page refused
    // a file `cxr predict` classifies.
    const file = join(work, 'padded.png');
    writeFileSync(file, paddedPng(48, 40));
    const [n] = JSON.parse(cxr(['predict', '--weights', models.withMetadata, '--json', file])) as PageResult[];
    const [p] = (await classifyInPage([file])).filter((r) => r.file === 'padded.png');
    expectClose(p.probs, n.probs, 'padded.png');
  });

  it('asks for arch and classes when the file has no metadata, and then gives the same probabilities', async () => {
    await page.setInputFiles('#model-input', models.bare);
    await page.waitForSelector('#model-settings:not([hidden])');
    await page.selectOption('#arch-input', 'resnet18');
    await page.fill('#classes-input', classes.join(','));
    await page.fill('#size-input', String(inputSize));
    await page.click('#model-settings button[type="submit"]');
    await page.waitForSelector('body[data-model="bare.safetensors"]', { timeout: 300_000 });
    const results = await classifyInPage([xrays[2]]);
    expectClose(results[0].probs, node[2].probs, 'bare model, 8-bit PNG');
    // GPU memory stays flat from one image to the next (everything but the model is freed).
    const stats = () =>
      page.evaluate(() => {
        const s = (globalThis as unknown as { cxr: { tensor: typeof import('@cxr/tensor') } }).cxr.tensor.memoryStats();
        return [s.liveTensors, s.liveBytes, s.inUseBytes];
      });
    const before = await stats();
    await classifyInPage([xrays[2], xrays[2]]);
    expect(await stats()).toEqual(before);
  });

  it('applies the decision rule stored in the file (temperature, threshold chosen on validation) exactly as cxr predict --json does', async () => {
    // p(infected) at temperature T straight from Node's logits, softmax(logits / T) in float64:
    // a reference apart from the rule's own code (which scales log-probabilities).
    const temperature = 1.7;
    const scaled = node.map((n) => {
      const e = n.logits!.map((v) => Math.exp(v / temperature - Math.max(...n.logits!) / temperature));
      return e.map((v) => v / e.reduce((a, b) => a + b, 0));
    });
    const pInfected = scaled.map((p) => p[classes.indexOf('infected')]);
    // The temperature moves the probabilities far beyond the tolerance, so ignoring it would fail.
    expect(Math.max(...scaled.map((p, i) => Math.abs(p[0] - node[i].probs[0]) / node[i].probs[0]))).toBeGreaterThan(1e-3);
    // A threshold between two images' p(infected) that decides at least one image otherwise than
    // the most probable class would: the threshold, not argmax, must make the decision.
    const sorted = [...pInfected].sort((a, b) => a - b);
    const threshold = [0, 1].map((i) => (sorted[i] + sorted[i + 1]) / 2).find((t) => pInfected.some((p) => p >= t !== p >= 0.5));
    expect(threshold, `p(infected) ${pInfected.join(', ')}`).toBeDefined();
    const file = join(work, 'calibrated.safetensors');
    writeSafetensorsFile(file, models.host, {
      ...models.metadata,
      ...encodeDecisionRule({ positiveClass: 'infected', threshold: threshold!, thresholdSpec: 'youden', temperature }),
    });
    const fromNode = JSON.parse(cxr(['predict', '--model', file, '--json', ...xrays])) as PageResult[];
    const expected = pInfected.map((p) => (p >= threshold! ? 'infected' : 'normal'));
    expect(expected.some((label, i) => label !== classes[scaled[i][0] >= scaled[i][1] ? 0 : 1])).toBe(true);
    fromNode.forEach((n, i) => {
      expectClose(n.probs, scaled[i], `T = ${temperature}, ${xrays[i].split('/').pop()}`, 'cxr predict vs softmax(logits / T)');
      expect(n.label).toBe(expected[i]);
      expect(n.threshold).toBe(threshold);
    });

    await page.setInputFiles('#model-input', file);
    await page.waitForSelector('body[data-model="calibrated.safetensors"]', { timeout: 300_000 });
    expect(await page.locator('#model-info').textContent()).toContain(
      `decision at threshold ${threshold!.toFixed(4)} chosen on validation (youden); probabilities with temperature 1.700`,
    );
    const results = (await classifyInPage(xrays)).slice(0, xrays.length); // newest first
    for (const n of fromNode) {
      const name = n.file.split('/').pop()!;
      const p = results.find((r) => r.file === name)!;
      expect(p, name).toBeDefined();
      expectClose(p.probs, n.probs, `T = ${temperature}, threshold ${threshold!.toFixed(4)}: ${name}`);
      expect(p.label, name).toBe(n.label);
      // The heat map explains the decision, also where the threshold overrules the most probable class.
      expect(p.camClass, name).toBe(p.label);
    }
    const verdicts = await page.locator('#results .result.done .verdict').allTextContents();
    for (const v of verdicts.slice(0, xrays.length)) expect(v).toContain(`decision at threshold ${threshold!.toFixed(4)} chosen on validation`);
  });

  it('runs @cxr/tensor matmul and conv2d forward and backward in the page, matching float64 references', async () => {
    const A = rand(37 * 61, 1);
    const B = rand(61 * 29, 2);
    const { xs, ws, g, ys, X, W } = convCase(3, 4);
    const bias = rand(7, 5);
    const DY = rand(
      ys.reduce((p, d) => p * d),
      6,
    );
    const out = await page.evaluate(
      async ({ A, B, X, W, bias, DY, xs, ws, ys }) => {
        const T = (globalThis as unknown as { cxr: { tensor: typeof import('@cxr/tensor') } }).cxr.tensor;
        await T.getDevice();
        const o = { stride: 2, padding: 1 };
        const mm = T.matmul(T.tensor(A, [37, 61]), T.tensor(B, [61, 29]));
        const x = T.tensor(X, xs);
        const w = T.tensor(W, ws);
        const dy = T.tensor(DY, ys);
        const y = T.conv2d(x, w, T.tensor(bias, [7]), o);
        const dx = T.conv2dBackwardInput(dy, w, xs, o);
        const dw = T.conv2dBackwardWeight(dy, x, ws, o);
        const arrays = await Promise.all([mm, y, dx, dw].map((t) => t.toArray()));
        return arrays.map((a) => Array.from(a));
      },
      { A, B, X, W, bias, DY, xs, ws, ys },
    );
    expect(relErr(out[0], matmulRef(A, [37, 61], B, [61, 29]).data)).toBeLessThan(1e-5);
    expect(relErr(out[1], refConv2d(X, W, bias, g))).toBeLessThan(1e-5);
    expect(relErr(out[2], refConv2dBackwardInput(DY, W, g))).toBeLessThan(1e-5);
    expect(relErr(out[3], refConv2dBackwardWeight(DY, X, g))).toBeLessThan(1e-5);
  });

  it('float16 tensors in the page: a one-line error naming the adapter without shader-f16 (SwiftShader), else conv2d forward and both backwards matching float64 on the rounded values', async () => {
    const { xs, ws, g, ys, X, W } = convCase(7, 8);
    const DY = rand(
      ys.reduce((p, d) => p * d),
      9,
    );
    const out = await page.evaluate(
      async ({ X, W, DY, xs, ws, ys }) => {
        const T = (globalThis as unknown as { cxr: { tensor: typeof import('@cxr/tensor') } }).cxr.tensor;
        const gpu = await T.getDevice();
        const features = [...gpu.device.features];
        if (!features.includes('shader-f16')) {
          try {
            T.cast(T.tensor(X, xs), 'float16');
            return { features, error: null, dtypes: [], arrays: [] };
          } catch (e) {
            return { features, error: (e as Error).message, dtypes: [], arrays: [] };
          }
        }
        const o = { stride: 2, padding: 1 };
        const x = T.cast(T.tensor(X, xs), 'float16');
        const w = T.cast(T.tensor(W, ws), 'float16');
        const dy = T.cast(T.tensor(DY, ys), 'float16');
        const results = [T.conv2d(x, w, null, o), T.conv2dBackwardInput(dy, w, xs, o), T.conv2dBackwardWeight(dy, x, ws, o)];
        const arrays = await Promise.all(results.map((t) => t.toArray()));
        return { features, error: null, dtypes: results.map((t) => t.dtype), arrays: arrays.map((a) => Array.from(a)) };
      },
      { X, W, DY, xs, ws, ys },
    );
    if (!out.features.includes('shader-f16')) {
      // Chromium's SwiftShader here: float16 cannot run, and says so instead of computing garbage.
      expect(out.error).toMatch(/^cast x\[2,5,11,13\] out\[2,5,11,13\]: 'out' is float16, but this adapter \(.+\) has no shader-f16 feature: use float32$/);
      return;
    }
    expect(out.dtypes).toEqual(['float16', 'float16', 'float16']);
    const [Xh, Wh, DYh] = [X, W, DY].map((a) => a.map(roundToHalf));
    // One float16 rounding of each output (2^-11 relative), f32 accumulation.
    expect(relErr(out.arrays[0], refConv2d(Xh, Wh, null, g))).toBeLessThan(2e-3);
    expect(relErr(out.arrays[1], refConv2dBackwardInput(DYh, Wh, g))).toBeLessThan(2e-3);
    expect(relErr(out.arrays[2], refConv2dBackwardWeight(DYh, Xh, g))).toBeLessThan(2e-3);
  });

  it('opens with a run preloaded by cxr serve --run, and matches cxr predict --run', async () => {
    // A run folder as `cxr train` leaves it, with a model file that has no metadata: the settings
    // then come from the run (config.json, metrics.json) through the URL `serve` prints.
    const run = join(work, 'run');
    mkdirSync(run);
    copyFileSync(models.bare, join(run, 'model.safetensors'));
    writeFileSync(join(run, 'config.json'), JSON.stringify({ arch: 'resnet18', head: 'replace', imageSize: inputSize }));
    writeFileSync(join(run, 'metrics.json'), JSON.stringify({ splits: { test: { classNames: classes } } }));
    const served = await startServer({ port: 0, run });
    const second = await browser.newPage();
    try {
      await second.goto(served.url, { waitUntil: 'load' });
      await second.waitForSelector('body[data-model="model.safetensors"]', { timeout: 300_000 });
      await second.setInputFiles('#image-input', xrays[1]);
      await second.waitForSelector('#results .result.done', { timeout: 300_000 });
      const probs = JSON.parse((await second.getAttribute('#results .result.done', 'data-probs'))!) as number[];
      const [fromRun] = JSON.parse(cxr(['predict', '--run', run, '--json', xrays[1]])) as PageResult[];
      expectClose(probs, fromRun.probs, 'served run, JPEG');
    } finally {
      await second.close();
      await new Promise((r) => served.server.close(r));
    }
  });

  it('made no network request after loading, and raised no page error', () => {
    expect(requestsAfterLoad).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('is usable from the keyboard: every control has a label, and Tab reaches the model picker first', async () => {
    const unlabelled = await page.$$eval('input, select', (els) => els.filter((e) => !(e as HTMLInputElement).labels?.length).map((e) => e.id));
    expect(unlabelled).toEqual([]);
    await page.reload({ waitUntil: 'load' });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('model-input');
  });
});
