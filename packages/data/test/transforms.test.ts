import { describe, expect, it } from 'vitest';
import {
  applyTransforms,
  centerCrop,
  equalize,
  hflip,
  mulberry32,
  randomResizedCropParams,
  resize,
  rotate,
  toCHW,
  toPlanes,
  trainTransforms,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type Image,
} from '../src/index.ts';
import { testRng } from './helpers.ts';

const { rng, seed } = testRng('transforms');

function randomImage(w: number, h: number, c: 1 | 3): Image {
  return { width: w, height: h, channels: c, data: Float32Array.from({ length: w * h * c }, () => rng.next()) };
}

describe('transforms', () => {
  it('same seed gives identical output, another seed a different one', () => {
    const img = randomImage(60 + rng.int(0, 40), 50 + rng.int(0, 40), rng.next() < 0.5 ? 1 : 3);
    const tf = trainTransforms({ size: 32, equalize: true });
    const a = applyTransforms(img, tf, mulberry32(seed));
    const b = applyTransforms(img, tf, mulberry32(seed));
    const c = applyTransforms(img, tf, mulberry32(seed + 1));
    expect(a.width).toBe(32);
    expect(a.height).toBe(32);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
  });

  it('resize: shorter side like torchvision, exact size, constants preserved, both filters', () => {
    const w = 30 + rng.int(0, 50);
    const h = 30 + rng.int(0, 50);
    const s = 10 + rng.int(0, 40);
    const img = randomImage(w, h, 3);
    const r = resize(img, s, 'bilinear');
    expect(Math.min(r.width, r.height)).toBe(s);
    expect(Math.max(r.width, r.height)).toBe(Math.trunc((s * Math.max(w, h)) / Math.min(w, h)));
    const k = rng.next();
    const flat: Image = { width: w, height: h, channels: 1, data: new Float32Array(w * h).fill(k) };
    for (const f of ['bilinear', 'bicubic'] as const) {
      const out = resize(flat, [h * 2 + 1, Math.max(1, w >> 1)], f);
      expect(out.width).toBe(Math.max(1, w >> 1));
      expect(out.height).toBe(h * 2 + 1);
      for (const v of out.data) expect(v).toBeCloseTo(k, 5);
    }
  });

  it('centerCrop picks the middle; flip is an involution; rotate by 0 is identity and 90 turns a square', () => {
    const n = 8 + 2 * rng.int(0, 10);
    const img = randomImage(n, n, 1);
    const c = centerCrop(img, n - 4);
    expect(c.data[0]).toBe(img.data[2 * n + 2]);
    expect(Array.from(hflip(hflip(img)).data)).toEqual(Array.from(img.data));
    expect(hflip(img).data[0]).toBe(img.data[n - 1]);
    const r0 = rotate(img, 0);
    for (let i = 0; i < r0.data.length; i++) expect(r0.data[i]).toBeCloseTo(img.data[i], 5);
    const r90 = rotate(img, 90);
    // counter-clockwise: output (x, y) comes from source (n-1-y, x)
    const y = rng.int(0, n);
    const x = rng.int(0, n);
    expect(r90.data[y * n + x]).toBeCloseTo(img.data[x * n + (n - 1 - y)], 4);
  });

  it('centerCrop larger than the image pads like torchvision: (crop - side) // 2 before, the rest after', () => {
    // expected offsets from torchvision.transforms.functional.center_crop (pads floor, crops round-half-even)
    const img = { width: 5, height: 5, channels: 1 as const, data: Float32Array.from({ length: 25 }, (_, i) => i + 1) };
    const firstInside = (c: ReturnType<typeof centerCrop>) => {
      const i = c.data.findIndex((v) => v > 0);
      return [Math.floor(i / c.width), i % c.width, c.data[i]];
    };
    expect(firstInside(centerCrop(img, 8))).toEqual([1, 1, 1]);
    expect(firstInside(centerCrop(img, 6))).toEqual([0, 0, 1]);
    expect(firstInside(centerCrop(img, [9, 3]))).toEqual([2, 0, 2]);
  });

  it('random resized crop parameters stay inside the image with torchvision scale/ratio bounds', () => {
    for (let t = 0; t < 500; t++) {
      const W = 20 + rng.int(0, 300);
      const H = 20 + rng.int(0, 300);
      const p = randomResizedCropParams(W, H, rng);
      expect(p.left).toBeGreaterThanOrEqual(0);
      expect(p.top).toBeGreaterThanOrEqual(0);
      expect(p.left + p.width).toBeLessThanOrEqual(W);
      expect(p.top + p.height).toBeLessThanOrEqual(H);
      const area = (p.width * p.height) / (W * H);
      expect(area).toBeLessThanOrEqual(1);
      expect(area).toBeGreaterThan(0.03); // 0.08 less rounding on tiny images
    }
  });

  it('toCHW replicates grey to 3 channels and normalises with ImageNet mean/std', () => {
    const img = randomImage(7, 5, 1);
    const out = toCHW(img);
    expect(out.length).toBe(3 * 35);
    for (let c = 0; c < 3; c++) {
      const i = rng.int(0, 35);
      expect(out[c * 35 + i]).toBeCloseTo((img.data[i] - IMAGENET_MEAN[c]) / IMAGENET_STD[c], 5);
    }
  });

  it('toPlanes writes un-normalised planes: grey as one (or replicated to three), RGB de-interleaved', () => {
    const grey = randomImage(7, 5, 1);
    expect(Array.from(toPlanes(grey))).toEqual(Array.from(grey.data));
    const three = toPlanes(grey, new Float32Array(2 + 3 * 35), 2, 3);
    for (let c = 0; c < 3; c++) expect(Array.from(three.subarray(2 + c * 35, 2 + (c + 1) * 35))).toEqual(Array.from(grey.data));
    const rgb = randomImage(6, 3, 3);
    const planes = toPlanes(rgb);
    expect(planes.length).toBe(3 * 18);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 18; i++) expect(planes[c * 18 + i]).toBe(rgb.data[3 * i + c]);
    expect(() => toPlanes(rgb, undefined, 0, 1)).toThrow(/toPlanes: a 3-channel image cannot be written as one plane/);
  });

  it('equalize flattens the histogram of a low-contrast image', () => {
    const img = randomImage(64, 64, 1);
    for (let i = 0; i < img.data.length; i++) img.data[i] = 0.4 + 0.1 * img.data[i];
    const e = equalize(img);
    let lo = 1;
    let hi = 0;
    for (const v of e.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(hi - lo).toBeGreaterThan(0.9);
    // monotone mapping
    const i = rng.int(0, 4096);
    const j = rng.int(0, 4096);
    if (img.data[i] < img.data[j]) expect(e.data[i]).toBeLessThanOrEqual(e.data[j]);
  });
});
