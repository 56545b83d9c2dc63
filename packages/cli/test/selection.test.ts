// --positive defaults and refusal, --select-by scores, --patience, --class-weights.
import { describe, expect, it } from 'vitest';
import { classWeightsFor } from '../src/metrics/classWeights.ts';
import { isImprovement, selectionScore, shouldStopEarly } from '../src/metrics/modelSelection.ts';
import { resolvePositiveClass } from '../src/metrics/positiveClass.ts';

describe('--positive', () => {
  it('defaults to the class that is not named like a negative finding, whatever the sort order', () => {
    expect(resolvePositiveClass(['NORMAL', 'PNEUMONIA'])).toBe('PNEUMONIA');
    expect(resolvePositiveClass(['covid', 'Healthy'])).toBe('covid');
    expect(resolvePositiveClass(['infected', 'normal'])).toBe('infected');
    expect(resolvePositiveClass(['No Finding', 'Effusion'])).toBe('Effusion');
    expect(resolvePositiveClass(['negative', 'positive'])).toBe('positive');
  });
  it('stops and asks when it cannot tell, and names the classes on a bad --positive', () => {
    expect(() => resolvePositiveClass(['cats', 'dogs'])).toThrow(
      /cannot tell which of 'cats' and 'dogs' is the positive class; pass --positive cats or --positive dogs/,
    );
    expect(() => resolvePositiveClass(['normal', 'Normal'])).toThrow(/cannot tell/);
    expect(resolvePositiveClass(['cats', 'dogs'], 'DOGS')).toBe('dogs');
    expect(() => resolvePositiveClass(['NORMAL', 'PNEUMONIA'], 'covid')).toThrow(/--positive covid: no such class; the classes are NORMAL, PNEUMONIA/);
  });
  it('three classes need no positive class, but take one', () => {
    expect(resolvePositiveClass(['covid-19', 'normal', 'pneumonia'])).toBeNull();
    expect(resolvePositiveClass(['covid-19', 'normal', 'pneumonia'], 'covid-19')).toBe('covid-19');
  });
});

describe('--select-by and --patience', () => {
  const v = { valLoss: 0.3, valAccuracy: 0.8, valF1: 0.6, valAuc: 0.9 };
  it('scores so that larger is better for every metric', () => {
    expect(selectionScore('val-loss', v)).toBe(-0.3);
    expect(selectionScore('val-accuracy', v)).toBe(0.8);
    expect(selectionScore('val-f1', v)).toBe(0.6);
    expect(selectionScore('val-auc', v)).toBe(0.9);
    expect(selectionScore('val-auc', { ...v, valAuc: null })).toBeNaN();
    expect(isImprovement(-0.2, -0.3)).toBe(true);
    expect(isImprovement(-0.3, -0.3)).toBe(false);
    expect(isImprovement(NaN, null)).toBe(true);
    expect(isImprovement(NaN, 0.5)).toBe(false);
    expect(isImprovement(0.1, NaN)).toBe(true);
  });
  it('stops after `patience` epochs without improvement, never with 0', () => {
    expect(shouldStopEarly(5, 3, 2)).toBe(true);
    expect(shouldStopEarly(4, 3, 2)).toBe(false);
    expect(shouldStopEarly(50, 1, 0)).toBe(false);
  });
});

describe('--class-weights', () => {
  it('auto is inverse frequency (all ones when balanced); explicit weights need one per class', () => {
    expect(classWeightsFor('auto', [3600, 10000], ['covid', 'normal'])).toEqual([13600 / 7200, 13600 / 20000]);
    expect(classWeightsFor('auto', [5, 5, 5], ['a', 'b', 'c'])).toEqual([1, 1, 1]);
    expect(classWeightsFor('none', [1, 2], ['a', 'b'])).toBeNull();
    expect(classWeightsFor('1,3', [1, 2], ['a', 'b'])).toEqual([1, 3]);
    expect(() => classWeightsFor('1,3', [1, 2, 3], ['a', 'b', 'c'])).toThrow(/2 weights for 3 classes \(a, b, c\)/);
    expect(() => classWeightsFor('auto', [0, 2], ['a', 'b'])).toThrow(/class 'a' has no training images/);
  });
});
