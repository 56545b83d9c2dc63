import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { apportion } from '../dataset/split.ts';
import { WorkerPool } from '../loader/pool.ts';
import { mixSeed, mulberry32, type Rng } from '../rng.ts';
import { valueNoise } from './noise.ts';

export interface SynthOptions {
  out: string;
  /** images per class over all splits (split 70/15/15 into train/val/test folders) */
  perClass: number;
  /** width and height in pixels */
  size: number;
  seed?: number;
  /** file formats to mix (default all three) */
  formats?: Format[];
  /**
   * worker threads that write the images in parallel (default 0: this thread); the files are
   * the same whatever the count, since every image depends only on (seed, class, index)
   */
  workers?: number;
  /** [k, n]: write only the images whose index within their class is k modulo n (a worker's share) */
  shard?: [number, number];
}

export interface SynthResult {
  files: string[];
  counts: Record<string, Record<string, number>>;
}

export const SYNTH_CLASSES = ['infected', 'normal'] as const;

const smooth = (e0: number, e1: number, x: number): number => {
  const t = Math.min(Math.max((x - e0) / (e1 - e0), 0), 1);
  return t * t * (3 - 2 * t);
};

interface Blob {
  u: number;
  v: number;
  sigma: number;
  amp: number;
}

/**
 * One chest-X-ray-like frontal radiograph, grey, values in [0, 1] (row-major size x size).
 * Anatomy (thorax, lungs with diaphragm domes, mediastinum, heart, spine, ribs, clavicles) is
 * jittered per image, and exposure, contrast, gamma and noise vary for both classes, so the only
 * class signal is the 'infected' class's diffuse, patchy opacities inside the lung fields, of
 * varying number, size and density. Normals get the same lung texture without the patches.
 */
export function synthImage(size: number, rng: Rng, infected: boolean): Float32Array {
  const S = size;
  const img = new Float32Array(S * S);
  // geometry jitter: scale, shift, tilt
  const sc = rng.uniform(0.9, 1.05);
  const du = rng.uniform(-0.04, 0.04);
  const dv = rng.uniform(-0.04, 0.04);
  const tilt = (rng.uniform(-4, 4) * Math.PI) / 180;
  const ct = Math.cos(tilt);
  const st = Math.sin(tilt);
  const lungW = rng.uniform(0.14, 0.17);
  const lungH = rng.uniform(0.27, 0.32);
  const lungGap = rng.uniform(0.17, 0.2);
  const heartR = rng.uniform(0.11, 0.15);
  const ribSpacing = rng.uniform(0.05, 0.06);
  const ribCurve = rng.uniform(0.5, 0.9);
  const ribAmp = rng.uniform(0.07, 0.12);
  const texture = valueNoise(24, rng);
  const texture2 = valueNoise(7, rng);
  const patch = valueNoise(14, rng);
  const blobs: Blob[] = [];
  if (infected) {
    // extent from one small patch to both lungs widely involved; lower/peripheral zones favoured
    const extent = rng.uniform(0.15, 1);
    const k = 1 + Math.floor(extent * 6 * rng.uniform(0.6, 1));
    for (let i = 0; i < k; i++) {
      const side = rng.next() < 0.5 ? -1 : 1;
      blobs.push({
        u: 0.5 + side * (lungGap + rng.uniform(-0.05, 0.09)),
        v: 0.45 + rng.uniform(-0.15, 0.25),
        sigma: rng.uniform(0.04, 0.1) * (0.6 + extent * 0.6),
        amp: rng.uniform(0.12, 0.3) * (0.5 + 0.5 * extent),
      });
    }
  }
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const u0 = (x + 0.5) / S - 0.5;
      const v0 = (y + 0.5) / S - 0.5;
      const u = (ct * u0 - st * v0) / sc + 0.5 - du;
      const v = (st * u0 + ct * v0) / sc + 0.5 - dv;
      let val = 0.04;
      // thorax soft tissue
      const tb = ((u - 0.5) / 0.44) ** 2 + ((v - 0.6) / 0.6) ** 2;
      val += 0.3 * (1 - smooth(0.85, 1.05, tb));
      // lungs: dark ellipses cut off below by diaphragm domes
      let lung = 0;
      for (const side of [-1, 1]) {
        const cu = 0.5 + side * lungGap;
        const e = ((u - cu) / lungW) ** 2 + ((v - 0.45) / lungH) ** 2;
        const dome = 0.41 + lungH * 0.8 + 0.06 * ((u - cu) / lungW) ** 2;
        lung = Math.max(lung, (1 - smooth(0.75, 1.0, e)) * (1 - smooth(dome - 0.03, dome + 0.01, v)));
      }
      const tex = 0.6 * texture(u, v) + 0.4 * texture2(u, v);
      val -= lung * (0.2 - 0.05 * tex);
      // mediastinum and spine
      val += 0.18 * (1 - smooth(0.045, 0.075, Math.abs(u - 0.5))) * smooth(0.08, 0.15, v);
      val += 0.06 * (1 - smooth(0.015, 0.03, Math.abs(u - 0.5)));
      // heart, bulging to the patient's left (image right)
      const he = ((u - 0.54) / (heartR * 1.15)) ** 2 + ((v - 0.63) / heartR) ** 2;
      val += 0.2 * (1 - smooth(0.8, 1.0, he));
      // ribs: arcs descending laterally
      const off = Math.abs(u - 0.5);
      if (off > 0.03 && off < 0.4) {
        for (let i = 0; i < 10; i++) {
          const yc = 0.17 + i * ribSpacing + ribCurve * off * off - 0.05 * off;
          const d = Math.abs(v - yc);
          if (d < 0.02) val += ribAmp * (1 - smooth(0.006, 0.014, d)) * (1 - smooth(0.3, 0.4, off));
        }
      }
      // clavicles
      const cl = Math.abs(v - (0.16 - 0.12 * (off - 0.15)));
      if (off > 0.05 && off < 0.3) val += 0.12 * (1 - smooth(0.008, 0.016, cl));
      // opacities: patchy ground glass, confined to the lungs
      if (blobs.length && lung > 0.01) {
        let op = 0;
        for (const b of blobs) {
          const r2 = ((u - b.u) ** 2 + (v - b.v) ** 2) / (2 * b.sigma * b.sigma);
          if (r2 < 9) op += b.amp * Math.exp(-r2);
        }
        val += lung * op * (0.45 + 0.8 * patch(u, v));
      }
      img[y * S + x] = val;
    }
  }
  // exposure, contrast, gamma and quantum noise vary for both classes
  const gain = rng.uniform(0.85, 1.25);
  const bias = rng.uniform(-0.04, 0.06);
  const gamma = rng.uniform(0.8, 1.25);
  const noise = rng.uniform(0.008, 0.02);
  for (let i = 0; i < img.length; i++) {
    const v = Math.min(Math.max(img[i] * gain + bias + noise * rng.normal(), 0), 1);
    img[i] = v ** gamma;
  }
  return img;
}

const bytesOf = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export type Format = 'png8' | 'png16' | 'jpeg';

function encode(img: Float32Array, size: number, format: Format, rng: Rng): Uint8Array {
  const n = size * size;
  if (format === 'png16') {
    const u16 = new Uint16Array(n);
    for (let i = 0; i < n; i++) u16[i] = Math.round(img[i] * 65535);
    // pngjs reads 16-bit input as native-endian Uint16 over the whole buffer
    const data = Buffer.from(u16.buffer);
    return bytesOf(PNG.sync.write({ width: size, height: size, data } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false }));
  }
  if (format === 'png8') {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = Math.round(img[i] * 255);
    return bytesOf(PNG.sync.write({ width: size, height: size, data } as PNG, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }));
  }
  const rgba = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const g = Math.round(img[i] * 255);
    rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = g;
    rgba[4 * i + 3] = 255;
  }
  return bytesOf(jpeg.encode({ data: rgba, width: size, height: size }, Math.round(rng.uniform(82, 96))).data);
}

/**
 * Writes `out/<split>/<class>/<class>_<n>.{png,jpg}`: PNG 8-bit, PNG 16-bit and JPEG mixed at
 * random per file, independently of the class, so format is no shortcut. Deterministic in `seed`.
 * Returns the files written per split and class.
 */
export async function synthesizeDataset(opts: SynthOptions): Promise<SynthResult> {
  const seed = opts.seed ?? 0;
  if (!(opts.perClass >= 1) || !(opts.size >= 32)) throw new Error(`synthesizeDataset: need perClass >= 1 and size >= 32, got ${opts.perClass}, ${opts.size}`);
  const splits = ['train', 'val', 'test'] as const;
  const per = apportion(opts.perClass, [0.7, 0.15, 0.15]);
  const formats = opts.formats ?? ['png8', 'png16', 'jpeg'];
  const plan: Array<{ file: string; cls: (typeof SYNTH_CLASSES)[number]; i: number; format: Format }> = [];
  const counts: Record<string, Record<string, number>> = {};
  for (const cls of SYNTH_CLASSES) {
    let i = 0;
    for (let s = 0; s < 3; s++) {
      const dir = path.join(opts.out, splits[s], cls);
      await mkdir(dir, { recursive: true });
      (counts[splits[s]] ??= {})[cls] = per[s];
      for (let k = 0; k < per[s]; k++, i++) {
        const format = formats[Math.floor(mulberry32(mixSeed(seed, 'format', cls, i)).next() * formats.length)];
        plan.push({ file: path.join(dir, `${cls}_${String(i).padStart(5, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`), cls, i, format });
      }
    }
  }
  const files = plan.map((p) => p.file);
  const workers = Math.min(opts.workers ?? 0, plan.length);
  if (workers > 1 && !opts.shard) {
    const pool = new WorkerPool(workers);
    try {
      await Promise.all(Array.from({ length: workers }, (_, k) => pool.synthesize({ ...opts, workers: 0, shard: [k, workers] })));
    } finally {
      await pool.close();
    }
    return { files, counts };
  }
  const [part, parts] = opts.shard ?? [0, 1];
  for (const p of plan) {
    if (p.i % parts !== part) continue;
    const img = synthImage(opts.size, mulberry32(mixSeed(seed, 'synth', p.cls, p.i)), p.cls === 'infected');
    const fmtRng = mulberry32(mixSeed(seed, 'format', p.cls, p.i));
    fmtRng.next(); // the format draw above; the JPEG quality comes next
    await writeFile(p.file, encode(img, opts.size, p.format, fmtRng));
  }
  return { files: opts.shard ? files.filter((_, k) => plan[k].i % parts === part) : files, counts };
}
