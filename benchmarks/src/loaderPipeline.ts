import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  centerCrop,
  DataLoader,
  decodeImage,
  evalTransforms,
  hflip,
  loadImageFolder,
  mulberry32,
  randomResizedCrop,
  resize,
  rotate,
  sniffFormat,
  synthesizeDataset,
  toCHW,
  type Image,
} from '@cxr/data';
import { isMain } from './isMain.ts';

/**
 * Issue 15's loader question on one machine: where one image's time goes and how the worker pool
 * scales, against torchvision on the same files in the same run.
 *
 * Files: a synthesized dataset like the GPU script's (256 px, PNG 8-bit, PNG 16-bit and RGB JPEG
 * mixed), or `dataDir`. Three parts:
 *  - stages: CPU ms per image of each step, single-threaded, in this process: read, decode per
 *    format as the loader decodes (neutral colour JPEGs straight to grey), JPEG kept RGB and JPEG
 *    through jpeg-js (the decoder before the fast path), the evaluation transforms (Resize(256),
 *    CenterCrop(224), CHW + normalise) and the training ones (RandomResizedCrop(224), rotation,
 *    flip). PIL + torchvision's steps likewise (open + load, Resize, CenterCrop, Grayscale(3),
 *    ToTensor, Normalize) in a Python process.
 *  - loader: images/s of @cxr/data's DataLoader (evaluation transforms, batch 32, nothing done
 *    with the batches, reused image buffers) for each worker count, best of the timed epochs
 *    after a warm-up epoch; the main thread's busy time per batch (event-loop utilisation), the
 *    first batch's wait and the process's CPU time per image (workers included).
 *  - torch: torchvision ImageFolder + DataLoader on the same files and transforms, the same worker
 *    counts (persistent workers, like ours), timed the same way.
 * CPU time (process.cpuUsage / time.process_time) is reported for stages because this machine is
 * shared: wall-clock per image moves with the load, CPU time much less.
 */
export interface PipelineOptions {
  /** images in the synthesized set (all splits are used) */
  images?: number;
  size?: number;
  dataDir?: string;
  workers?: number[];
  epochs?: number;
  batchSize?: number;
  python?: string;
  /** skip the per-stage part (it needs the current source tree's internals) */
  loaderOnly?: boolean;
  torch?: boolean;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** CPU ms per item of `fn` over `items`, best of `reps` passes after one warm-up pass. */
function perItem<T>(items: T[], fn: (x: T, i: number) => unknown, reps = 3): number {
  items.forEach(fn);
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const c0 = cpuMs();
    items.forEach(fn);
    best = Math.min(best, (cpuMs() - c0) / items.length);
  }
  return best;
}

function kindOf(b: Uint8Array): 'png8' | 'png16' | 'jpeg' {
  return sniffFormat(b) === 'jpeg' ? 'jpeg' : b[24] === 16 ? 'png16' : 'png8';
}

async function stages(files: string[]): Promise<Record<string, unknown>> {
  // jpeg-js straight, the JPEG decoder before the fast path (absent from older trees)
  const jpegMod = (await import('../../packages/data/src/decode/jpeg.ts').catch(() => undefined)) as
    | { decodeJpegWithJpegJs?: (b: Uint8Array, n: string, c: number) => Image }
    | undefined;
  const bytes = files.map((f) => new Uint8Array(readFileSync(f)));
  const out: Record<string, unknown> = {};
  out.readMs = perItem(files, (f) => readFileSync(f));
  const byKind: Record<string, Uint8Array[]> = {};
  for (const b of bytes) (byKind[kindOf(b)] ??= []).push(b);
  // as the loader decodes (neutral colour files straight to grey; older trees ignore the option)
  const decode = (b: Uint8Array) => decodeImage(b, 'x', { greyIfNeutral: true });
  const decodeMs: Record<string, number> = {};
  for (const [k, list] of Object.entries(byKind)) decodeMs[k] = perItem(list, decode);
  if (byKind.jpeg) decodeMs.jpegRgb = perItem(byKind.jpeg, (b) => decodeImage(b, 'x'));
  if (byKind.jpeg && jpegMod?.decodeJpegWithJpegJs) {
    const f = jpegMod.decodeJpegWithJpegJs;
    decodeMs.jpegViaJpegJs = perItem(byKind.jpeg, (b) => f(b, 'x.jpg', 3));
  }
  out.decodeMs = decodeMs;
  out.files = Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, v.length]));
  const sources = bytes.map(decode);
  const rgbSources = bytes.map((b) => decodeImage(b, 'x'));
  // evaluation transforms, on the sources as the loader sees them and with colour JPEGs kept RGB (as before)
  const evalOn = (src: Image[]) => {
    const resized = src.map((s) => resize(s, 256, 'bicubic'));
    const cropped = resized.map((r) => centerCrop(r, 224));
    const batch = new Float32Array(3 * 224 * 224);
    return {
      resizeMs: perItem(src, (s) => resize(s, 256, 'bicubic')),
      centerCropMs: perItem(resized, (r) => centerCrop(r, 224)),
      toCHWMs: perItem(cropped, (c) => toCHW(c, batch, 0)),
    };
  };
  out.eval = evalOn(sources);
  out.evalRgbJpegs = evalOn(rgbSources);
  // training transforms: the crop's resize, then rotation and flip on its output
  const rng = mulberry32(1);
  const crops = sources.map((s) => randomResizedCrop(s, 224, rng, { reducingGap: 2 }));
  out.train = {
    randomResizedCropMs: perItem(sources, (s) => randomResizedCrop(s, 224, rng, { reducingGap: 2 })),
    rotateMs: perItem(crops, (c) => rotate(c, rng.uniform(-30, 30))),
    hflipMs: perItem(crops, (c) => hflip(c)),
  };
  return out;
}

const torchPy = `
import json, sys, time, os
c = json.loads(sys.argv[1])
import torch, torchvision
from PIL import Image
from torchvision import transforms as tv
torch.set_num_threads(1)
files = c['files']
def pt(fn, items, reps=3):
    for x in items: fn(x)
    best = 1e9
    for _ in range(reps):
        t0 = time.process_time()
        for x in items: fn(x)
        best = min(best, (time.process_time() - t0) / len(items))
    return best * 1e3
def load(f):
    im = Image.open(f); im.load(); return im
r = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'pil': Image.__version__ if hasattr(Image, '__version__') else ''}
if c['stages']:
    import PIL; r['pil'] = PIL.__version__
    kinds = {}
    for f in files:
        k = 'jpeg' if f.endswith('.jpg') else ('png16' if Image.open(f).mode in ('I;16', 'I', 'I;16B') else 'png8')
        kinds.setdefault(k, []).append(f)
    r['readMs'] = pt(lambda f: open(f, 'rb').read(), files)
    r['decodeMs'] = {k: pt(load, v) for k, v in kinds.items()}
    ims = [load(f) for f in files]
    # ImageFolder's loader converts every file to RGB first (16-bit grey is clipped to 8 bits there)
    r['convertRgbMs'] = pt(lambda im: im.convert('RGB'), ims)
    rgb = [im.convert('RGB') for im in ims]
    res, crop, grey, tt, norm = tv.Resize(256), tv.CenterCrop(224), tv.Grayscale(3), tv.ToTensor(), tv.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    rs = [res(x) for x in rgb]; cs = [crop(x) for x in rs]; gs = [grey(x) for x in cs]; ts = [tt(x) for x in gs]
    r['eval'] = {'resizeMs': pt(res, rgb), 'centerCropMs': pt(crop, rs), 'grayscale3Ms': pt(grey, cs), 'toTensorMs': pt(tt, gs), 'normalizeMs': pt(norm, ts)}
    rrc, rot, flip = tv.RandomResizedCrop(224), tv.RandomRotation(30), tv.RandomHorizontalFlip()
    cr = [rrc(x) for x in rgb]
    r['train'] = {'randomResizedCropMs': pt(rrc, rgb), 'rotateMs': pt(rot, cr), 'hflipMs': pt(flip, cr)}
if c['loader']:
    tf = tv.Compose([tv.Resize(256), tv.CenterCrop(224), tv.Grayscale(3), tv.ToTensor(), tv.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(c['dir'], transform=tf)
    r['loader'] = {}
    for w in c['workers']:
        dl = torch.utils.data.DataLoader(ds, batch_size=c['batch'], shuffle=True, num_workers=w, persistent_workers=w > 0)
        best = 0; first = None
        cpu = 1e9
        for e in range(c['epochs'] + 1):
            t0 = time.perf_counter(); c0 = time.process_time(); n = 0
            for x, y in dl:
                if n == 0 and e > 0 and first is None: first = (time.perf_counter() - t0) * 1e3
                n += len(y)
            if e > 0: best = max(best, n / (time.perf_counter() - t0)); cpu = min(cpu, (time.process_time() - c0) / n * 1e3)
        r['loader']['workers%d' % w] = {'imagesPerS': best, 'firstBatchMs': first}
        # the worker processes' CPU time is not visible from here: only the single-process figure counts
        if w == 0: r['loader']['workers0']['cpuMsPerImage'] = cpu
        del dl
print(json.dumps(r))
`;

export async function benchLoaderPipeline(opts: PipelineOptions = {}): Promise<Record<string, unknown>> {
  const size = opts.size ?? 256;
  const workersList = opts.workers ?? [0, 1, 2];
  const epochs = opts.epochs ?? 3;
  const batchSize = opts.batchSize ?? 32;
  const python = opts.python ?? process.env.CXR_PYTHON ?? '/usr/bin/python3';
  const tmp = mkdtempSync(path.join(tmpdir(), 'cxr-bench-pipeline-'));
  const report: Record<string, unknown> = {
    name: 'loaderPipeline',
    machine: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    loadAverageBefore: loadavg().map((x) => round(x, 2)),
  };
  try {
    const dataDir = opts.dataDir ?? path.join(tmp, 'data');
    if (!opts.dataDir) await synthesizeDataset({ out: dataDir, perClass: Math.ceil((opts.images ?? 192) / 2), size, seed: 0 });
    const ds = await loadImageFolder(dataDir, { log: () => {} });
    const all = { classes: ds.classes, samples: [...ds.splits.train, ...ds.splits.val, ...ds.splits.test] };
    const files = all.samples.map((s) => s.file);
    report.images = files.length;
    report.sourceSize = `${size}x${size}`;
    if (!opts.loaderOnly) report.stages = await stages(files);

    const loader: Record<string, unknown> = {};
    // reuseBuffers as a training loop sets it (each batch used before the next); the largest
    // worker count also without, to show what the 19 MB allocation a batch costs. 'Deferred':
    // deferNormalize, as the CLI's loaders (grey batches as one un-normalised channel, expanded
    // and normalised on the device by the consumer), beside the earlier three normalised channels.
    const runs = [...workersList.flatMap((w) => [[w, true, false] as const, [w, true, true] as const]), [Math.max(...workersList), false, false] as const];
    for (const [workers, reuseBuffers, deferNormalize] of runs) {
      const dl = new DataLoader(all, { batchSize, workers, transforms: evalTransforms({ size: 224 }), reuseBuffers, deferNormalize });
      try {
        await dl.start();
        let best = 0;
        let busyPerBatch = Number.POSITIVE_INFINITY;
        let firstBatchMs = 0;
        let cpuPerImage = Number.POSITIVE_INFINITY;
        let bytesPerBatch = 0;
        for (let e = 0; e <= epochs; e++) {
          const t0 = performance.now();
          const elu0 = performance.eventLoopUtilization();
          const cpu0 = cpuMs(); // the whole process: main thread and workers
          let n = 0;
          let batches = 0;
          let first = 0;
          let bytes = 0;
          for await (const b of dl.epoch(e)) {
            if (!batches) first = performance.now() - t0;
            n += b.shape[0];
            bytes += b.images.byteLength;
            batches++;
          }
          bytesPerBatch = bytes / batches;
          const s = (performance.now() - t0) / 1000;
          const elu = performance.eventLoopUtilization(elu0);
          const cpu = (cpuMs() - cpu0) / n;
          if (e === 0) continue; // warm-up: JIT, page cache
          best = Math.max(best, n / s);
          cpuPerImage = Math.min(cpuPerImage, cpu);
          busyPerBatch = Math.min(busyPerBatch, elu.active / batches);
          firstBatchMs = e === 1 ? first : Math.min(firstBatchMs, first);
        }
        loader[`workers${workers}${reuseBuffers ? '' : 'NoReuse'}${deferNormalize ? 'Deferred' : ''}`] = {
          imagesPerS: round(best, 1),
          bytesPerBatch: Math.round(bytesPerBatch),
          mainThreadBusyMsPerBatch: round(busyPerBatch, 2),
          firstBatchMs: round(firstBatchMs, 1),
          cpuMsPerImage: round(cpuPerImage, 3),
        };
      } finally {
        await dl.close();
      }
    }
    report.loader = loader;

    if (opts.torch !== false && existsSync(python)) {
      try {
        const cfg = { files, dir: dataDir, stages: !opts.loaderOnly, loader: true, workers: workersList, epochs, batch: batchSize };
        // ImageFolder wants one folder of class folders: the synthesized set's train split alone would differ
        // from ours, so the torch loader reads every split through a folder of symlinks
        const flat = path.join(tmp, 'flat');
        execFileSync('bash', [
          '-c',
          `set -e; for s in train val test; do for c in "${dataDir}"/$s/*/; do mkdir -p "${flat}/$(basename "$c")"; for f in "$c"*; do ln -s "$f" "${flat}/$(basename "$c")/$s-$(basename "$f")"; done; done; done`,
        ]);
        cfg.dir = flat;
        const t = JSON.parse(
          execFileSync(python, ['-c', torchPy, JSON.stringify(cfg)], { encoding: 'utf8', timeout: 20 * 60_000 })
            .trim()
            .split('\n')
            .pop()!,
        );
        report.torch = t;
      } catch (e) {
        report.torchError = String((e as Error).message).slice(0, 1000);
      }
    }
    report.loadAverageAfter = loadavg().map((x) => round(x, 2));
    return report;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Rounds every number in a report for printing. */
function tidy(x: unknown): unknown {
  if (typeof x === 'number') return round(x);
  if (Array.isArray(x)) return x.map(tidy);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, tidy(v)]));
  return x;
}

if (isMain(import.meta.url, 'loaderPipeline.ts')) {
  const args = process.argv.slice(2);
  const value = (n: string) => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const r = await benchLoaderPipeline({
    images: value('--images') ? Number(value('--images')) : undefined,
    dataDir: value('--data'),
    workers: value('--workers')?.split(',').map(Number),
    epochs: value('--epochs') ? Number(value('--epochs')) : undefined,
    loaderOnly: args.includes('--loader-only'),
    torch: !args.includes('--no-torch'),
  });
  console.log(JSON.stringify(tidy(r), null, 2));
}
