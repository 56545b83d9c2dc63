import { describe, expect, it } from 'vitest';
import { mulberry32 as seededRng } from '@cxr/data';
import { evaluatePredictions, rowsFromFlat, argmax } from '../src/metrics/classificationMetrics.ts';
import { rocAuc, rocCurve, rocAucOneVsRest } from '../src/metrics/rocAuc.ts';
import { countConfusion, studyConfusion } from '../src/metrics/confusionMatrix.ts';

/** The data package's seeded PRNG, so the random comparisons are reproducible. */
const mulberry32 = (seed: number): (() => number) => seededRng(seed).next;

/** AUC as the Mann-Whitney U statistic from mid-ranks: an independent route to the same number. */
function aucMannWhitney(scores: number[], isPositive: boolean[]): number {
  const order = scores.map((s, i) => ({ s, i })).sort((a, b) => a.s - b.s);
  const ranks = new Array<number>(scores.length);
  for (let k = 0; k < order.length; ) {
    let end = k;
    while (end + 1 < order.length && order[end + 1].s === order[k].s) end++;
    const midRank = (k + end) / 2 + 1; // ranks are 1-based
    for (let j = k; j <= end; j++) ranks[order[j].i] = midRank;
    k = end + 1;
  }
  const p = isPositive.filter(Boolean).length;
  const n = scores.length - p;
  const rankSum = ranks.reduce((s, r, i) => s + (isPositive[i] ? r : 0), 0);
  return (rankSum - (p * (p + 1)) / 2) / (p * n);
}

/** AUC by counting all positive/negative pairs: the definition itself. */
function aucPairs(scores: number[], isPositive: boolean[]): number {
  let sum = 0;
  let pairs = 0;
  scores.forEach((sp, i) => {
    if (!isPositive[i]) return;
    scores.forEach((sn, j) => {
      if (isPositive[j]) return;
      pairs++;
      sum += sp > sn ? 1 : sp === sn ? 0.5 : 0;
    });
  });
  return sum / pairs;
}

describe('confusion matrix', () => {
  it('counts rows actual, columns predicted', () => {
    expect(countConfusion([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], 2)).toEqual([
      [1, 1],
      [1, 2],
    ]);
  });
  it('puts the positive class first', () => {
    const cm = studyConfusion([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ['normal', 'infected'], 1);
    expect(cm.labels).toEqual(['infected', 'normal']);
    expect(cm.matrix).toEqual([
      [2, 1],
      [1, 1],
    ]);
  });
  it('rejects out-of-range indices', () => {
    expect(() => countConfusion([2], [0], 2)).toThrow(/out of range/);
  });
});

describe('evaluatePredictions (hand-computed)', () => {
  // normal = 0, infected = 1; rows are [p(normal), p(infected)].
  const pInfected = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4];
  const labels = [1, 1, 1, 0, 0, 0, 0];
  const probs = pInfected.map((p) => [1 - p, p]);
  const m = evaluatePredictions({ probs, labels, classNames: ['Normal', 'Infected'] });

  it('binary metrics with infected positive', () => {
    // TP 2, FN 1, FP 1, TN 3
    expect(m.positiveClass).toBe('Infected');
    expect(m.accuracy).toBeCloseTo(5 / 7, 12);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.sensitivity).toBe(m.recall);
    expect(m.specificity).toBeCloseTo(3 / 4, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
  });
  it('macro metrics', () => {
    expect(m.perClass[0]).toMatchObject({ name: 'Normal', support: 4 });
    expect(m.perClass[0].precision).toBeCloseTo(3 / 4, 12);
    expect(m.macroPrecision).toBeCloseTo((2 / 3 + 3 / 4) / 2, 12);
    expect(m.macroRecall).toBeCloseTo((2 / 3 + 3 / 4) / 2, 12);
    expect(m.macroF1).toBeCloseTo(17 / 24, 12);
  });
  it('AUC and confusion matrix', () => {
    // positive scores beat negatives in 10 of 12 pairs
    expect(m.auc).toBeCloseTo(10 / 12, 12);
    expect(m.aucMethod).toBe('binary');
    expect(m.confusion).toEqual({
      labels: ['Infected', 'Normal'],
      matrix: [
        [2, 1],
        [1, 3],
      ],
    });
  });
  it('serialises to JSON without NaN', () => {
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });
  it('zero divisions give 0 and a single-class label set gives AUC null', () => {
    const allNormal = evaluatePredictions({
      probs: [
        [0.9, 0.1],
        [0.8, 0.2],
      ],
      labels: [0, 0],
      classNames: ['normal', 'infected'],
    });
    expect(allNormal.precision).toBe(0);
    expect(allNormal.recall).toBe(0);
    expect(allNormal.f1).toBe(0);
    expect(allNormal.specificity).toBe(1);
    expect(allNormal.auc).toBeNull();
  });
  it('falls back to the first class when no class is named infected', () => {
    const r = evaluatePredictions({
      probs: [
        [0.9, 0.1],
        [0.2, 0.8],
      ],
      labels: [0, 1],
      classNames: ['cat', 'dog'],
    });
    expect(r.positiveClass).toBe('cat');
    expect(r.accuracy).toBe(1);
  });
  it('accepts Float32Array rows from a flat buffer', () => {
    const flat = new Float32Array(probs.flat());
    const r = evaluatePredictions({ probs: rowsFromFlat(flat, 2), labels: new Int32Array(labels), classNames: ['Normal', 'Infected'] });
    expect(r.confusion.matrix).toEqual(m.confusion.matrix);
    expect(r.auc).toBeCloseTo(m.auc!, 6);
  });
  it('rejects mismatched inputs', () => {
    expect(() => evaluatePredictions({ probs: [[0.5, 0.5]], labels: [2], classNames: ['a', 'b'] })).toThrow(/not a class index/);
    expect(() => evaluatePredictions({ probs: [[1]], labels: [0], classNames: ['a', 'b'] })).toThrow(/1 probabilities for 2 classes/);
    expect(() => evaluatePredictions({ probs: [], labels: [0], classNames: ['a', 'b'] })).toThrow(/0 probability rows but 1 labels/);
  });
  it('argmax takes the first of equal values', () => {
    expect(argmax([0.5, 0.5])).toBe(0);
    expect(argmax(new Float32Array([0.1, 0.7, 0.2]))).toBe(1);
  });
});

describe('ROC AUC', () => {
  it('matches known small cases', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [false, false, true, true])).toBeCloseTo(0.5, 12);
    expect(rocAuc([0.5, 0.7, 0.5, 0.3], [true, true, false, false])).toBeCloseTo(0.875, 12);
    expect(rocAuc([1, 2], [true, true])).toBeNull();
  });
  it('groups tied scores into one diagonal step', () => {
    const curve = rocCurve([0.5, 0.5, 0.5, 0.9], [true, false, false, true])!;
    expect(curve.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [1, 1],
    ]);
  });
  it('equals the Mann-Whitney U statistic and the pair count on random data with ties', () => {
    const rand = mulberry32(7);
    for (let trial = 0; trial < 40; trial++) {
      const n = 5 + Math.floor(rand() * 200);
      const levels = trial % 2 === 0 ? 6 : 1000; // few levels force many ties
      const isPositive = Array.from({ length: n }, () => rand() < 0.4);
      if (!isPositive.includes(true) || !isPositive.includes(false)) continue;
      const scores = isPositive.map((pos) => Math.floor(Math.min(0.999, rand() * 0.8 + (pos ? 0.2 : 0)) * levels) / levels);
      const trapezoid = rocAuc(scores, isPositive)!;
      expect(trapezoid).toBeCloseTo(aucMannWhitney(scores, isPositive), 10);
      expect(trapezoid).toBeCloseTo(aucPairs(scores, isPositive), 10);
      // Sample order must not matter, which an ungrouped staircase would violate under ties.
      const perm = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
      expect(
        rocAuc(
          perm.map((i) => scores[i]),
          perm.map((i) => isPositive[i]),
        ),
      ).toBeCloseTo(trapezoid, 10);
    }
  });
  it('one-vs-rest macro for three classes equals the mean of per-class pair counts', () => {
    const rand = mulberry32(11);
    const n = 90;
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const probs = labels.map((l) => {
      const raw = [rand(), rand(), rand()];
      raw[l] += 0.5;
      const s = raw[0] + raw[1] + raw[2];
      return raw.map((v) => Math.round((v / s) * 20) / 20);
    });
    const expected =
      [0, 1, 2].reduce(
        (acc, c) =>
          acc +
          aucPairs(
            probs.map((r) => r[c]),
            labels.map((l) => l === c),
          ),
        0,
      ) / 3;
    expect(rocAucOneVsRest(probs, labels, 3)).toBeCloseTo(expected, 10);
    const m = evaluatePredictions({ probs, labels, classNames: ['infected', 'normal', 'other'] });
    expect(m.aucMethod).toBe('ovr-macro');
    expect(m.auc).toBeCloseTo(expected, 10);
    expect(m.confusion.labels[0]).toBe('infected');
  });
});
