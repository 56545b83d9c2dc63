// samples.png: each tile's Grad-CAM map explains the class its caption names as the prediction
// (the decision at the validation threshold), not the most probable class, which at a threshold
// below 0.5 is often the other one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import type { Module } from '@cxr/nn';

const calls = vi.hoisted(() => [] as { files: string[]; classIndex: number | undefined }[]);
vi.mock('../src/explain/explainImages.ts', () => ({
  explainImages: async (_model: unknown, files: readonly string[], o: { imageSize: number; classIndex?: number | readonly number[] }) => {
    const classOf = (k: number) => (typeof o.classIndex === 'object' ? o.classIndex[k] : o.classIndex);
    files.forEach((file, k) => calls.push({ files: [file], classIndex: classOf(k) }));
    const n = o.imageSize;
    return files.map((file, k) => ({
      file,
      image: { pixels: new Float32Array(n * n * 3), width: n, height: n, channels: 3, layout: 'hwc' },
      map: new Float32Array(n * n),
      classIndex: classOf(k) ?? 0,
      probs: new Float32Array([0.5, 0.5]),
      featureShape: [1, 1],
    }));
  },
}));

const { buildEvidence } = await import('../src/report/evidence.ts');
const dir = mkdtempSync(join(tmpdir(), 'cxr-evidence-cam-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("each sample's map explains its predicted class at the stored threshold", async () => {
  const row = (pInfected: number) => new Float32Array([pInfected, 1 - pInfected]);
  const val = { probs: [0.6, 0.45, 0.3, 0.2].map(row), labels: [0, 0, 1, 1], files: ['v1', 'v2', 'v3', 'v4'] };
  // t1: infected with p(infected) 0.45 >= 0.4, predicted infected although argmax says normal.
  // t2: normal with p(infected) 0.2, predicted normal. t3: normal, p 0.42: predicted infected (wrong).
  const test = { probs: [0.45, 0.2, 0.42].map(row), labels: [0, 1, 1], files: ['t1.png', 't2.png', 't3.png'] };
  const evidence = await buildEvidence({
    dir,
    classNames: ['infected', 'normal'],
    positiveClass: 'infected',
    val,
    splits: { val, test },
    finalSplit: 'test',
    threshold: '0.4',
    calibrate: 'none',
    model: {} as Module,
    camLayer: 'layer4',
    imageSize: 8,
    samplesTitle: 'samples',
  });
  const explainedAs = new Map(calls.flatMap((c) => c.files.map((f) => [f, c.classIndex] as const)));
  expect(explainedAs.get('t1.png')).toBe(0); // infected, as its caption says
  expect(explainedAs.get('t3.png')).toBe(0);
  expect(explainedAs.get('t2.png')).toBe(1);
  expect(evidence.gradCam!.images.map((i) => [i.file, i.predicted])).toEqual(
    expect.arrayContaining([
      ['t1.png', 'infected'],
      ['t3.png', 'infected'],
      ['t2.png', 'normal'],
    ]),
  );
});
