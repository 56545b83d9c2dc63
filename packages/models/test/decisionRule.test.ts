// The decision rule a model file stores: written and read back exactly, bad values refused with
// the file named, and applied as the report measured it (temperature, then threshold on p(positive)).
import { describe, expect, it } from 'vitest';
import { applyDecisionRule, decodeDecisionRule, encodeDecisionRule } from '../src/weights/decisionRule.ts';

describe('decision rule metadata', () => {
  it('round-trips through the string metadata, threshold bit for bit', () => {
    const rule = { positiveClass: 'infected', threshold: 0.1 + 0.2, thresholdSpec: 'sens:0.95', temperature: 1.2345678901234 };
    expect(decodeDecisionRule(encodeDecisionRule(rule))).toEqual(rule);
    // One format: every key under cxr.*, the positive class only as ModelInfo's cxr.positive_class.
    expect(Object.keys(encodeDecisionRule(rule)).sort()).toEqual(['cxr.positive_class', 'cxr.temperature', 'cxr.threshold', 'cxr.threshold_spec']);
    // Without a threshold the rule needs no positive class and leaves the model info's (or its absence) alone.
    const argmaxRule = { ...rule, threshold: null, thresholdSpec: null };
    expect(Object.keys(encodeDecisionRule(argmaxRule))).toEqual(['cxr.temperature']);
    expect(decodeDecisionRule({ 'cxr.positive_class': 'infected', ...encodeDecisionRule(argmaxRule) })).toEqual(argmaxRule);
    expect(decodeDecisionRule(encodeDecisionRule(argmaxRule))).toEqual({ ...argmaxRule, positiveClass: '' });
    expect(decodeDecisionRule({ format: 'cxr', 'cxr.arch': 'resnet18' })).toBeNull();
  });

  it('refuses values that are not a temperature or a probability, naming the file', () => {
    expect(() => decodeDecisionRule({ 'cxr.temperature': 'abc' }, 'm.safetensors')).toThrow(
      "m.safetensors: metadata 'cxr.temperature' is 'abc'; it must be a positive number",
    );
    expect(() => decodeDecisionRule({ 'cxr.temperature': '0' }, 'm.safetensors')).toThrow(/positive number/);
    expect(() => decodeDecisionRule({ 'cxr.threshold': '1.5' }, 'm.safetensors')).toThrow(
      "m.safetensors: metadata 'cxr.threshold' is '1.5'; it must be a probability in [0, 1]",
    );
    expect(() => decodeDecisionRule({ 'cxr.threshold': 'NaN' }, 'm.safetensors')).toThrow(/probability/);
  });
});

describe('applyDecisionRule', () => {
  const classes = ['infected', 'normal'];
  it('scales by the temperature as softmax(logits / T) does, then decides at the threshold', () => {
    const logits = [0.3, -0.4];
    const softmax = (z: number[]) => {
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const s = e.reduce((a, b) => a + b);
      return e.map((v) => v / s);
    };
    const T = 2.5;
    const r = applyDecisionRule([softmax(logits)], classes, { positiveClass: 'Infected', threshold: 0.6, thresholdSpec: 'youden', temperature: T });
    const ref = softmax(logits.map((v) => v / T));
    for (let i = 0; i < 2; i++) expect(Math.abs(r.probs[0][i] - ref[i]) / ref[i]).toBeLessThan(1e-12);
    expect(ref[0]).toBeGreaterThan(0.5); // argmax would say infected; p(infected) < 0.6 says normal
    expect(r.predicted).toEqual([1]);
  });

  it('falls back to argmax without a rule, or when the positive class is not among the classes', () => {
    expect(applyDecisionRule([[0.45, 0.55]], classes, null).predicted).toEqual([1]);
    expect(
      applyDecisionRule([[0.45, 0.55]], classes, { positiveClass: 'infected', threshold: 0.4, thresholdSpec: 'youden', temperature: 1 }).predicted,
    ).toEqual([0]);
    expect(applyDecisionRule([[0.45, 0.55]], classes, { positiveClass: 'covid', threshold: 0.4, thresholdSpec: 'youden', temperature: 1 }).predicted).toEqual([
      1,
    ]);
  });
});
