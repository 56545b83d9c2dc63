/**
 * How a trained model turns logits into a decision, stored in the model file's metadata so
 * `predict` applies exactly what the report measured: the temperature fitted on validation
 * (1 = none) and the threshold on p(positive) chosen on validation (two classes only).
 */
import { openSafetensors } from '@cxr/models';
import { applyTemperature } from '../metrics/calibration.ts';
import { predictAt } from '../metrics/metricIntervals.ts';
import type { Evidence } from '../report/evidence.ts';

export interface DecisionRule {
  positiveClass: string;
  /** null: argmax. */
  threshold: number | null;
  thresholdSpec: string | null;
  temperature: number;
}

/** The rule a run's evidence implies: its validation threshold and temperature. */
export function decisionRuleOf(e: Evidence): DecisionRule {
  return {
    positiveClass: Object.values(e.intervals)[0]?.positiveClass ?? '',
    threshold: e.threshold?.value ?? null,
    thresholdSpec: e.threshold?.spec ?? null,
    temperature: e.calibration.temperature ?? 1,
  };
}

/**
 * Metadata keys of the rule, beside the model info (@cxr/models modelMetadata.ts) in the same
 * header and under its `cxr.` prefix. The positive class is not repeated: `cxr.positive_class`
 * (the model info's) is the one place it is stored, and readDecisionRule reads it from there.
 */
export function decisionMetadata(rule: DecisionRule): Record<string, string> {
  return {
    'cxr.temperature': String(rule.temperature),
    ...(rule.threshold === null ? {} : { 'cxr.threshold': String(rule.threshold), 'cxr.threshold_spec': rule.thresholdSpec ?? '' }),
  };
}

/** The rule stored in a model file, or null for a file without one (argmax, no temperature). */
export function readDecisionRule(file: string): DecisionRule | null {
  let m: Record<string, string>;
  try {
    const f = openSafetensors(file);
    f.close();
    m = f.metadata;
  } catch {
    return null; // not safetensors (a torch file): no rule recorded
  }
  const temperature = m['cxr.temperature'];
  const threshold = m['cxr.threshold'];
  if (temperature === undefined && threshold === undefined) return null;
  return {
    positiveClass: m['cxr.positive_class'] ?? '',
    threshold: threshold === undefined ? null : Number(threshold),
    thresholdSpec: m['cxr.threshold_spec'] ?? null,
    temperature: temperature === undefined ? 1 : Number(temperature),
  };
}

/** Calibrated probabilities and the decided class index per row. */
export function applyDecisionRule(probs: readonly ArrayLike<number>[], classNames: readonly string[], rule: DecisionRule | null): { probs: Float64Array[]; predicted: number[] } {
  const p = rule && rule.temperature !== 1 ? applyTemperature(probs, rule.temperature) : probs.map((r) => Float64Array.from(r));
  const positive = rule ? classNames.findIndex((c) => c.toLowerCase() === rule.positiveClass.toLowerCase()) : -1;
  return { probs: p, predicted: predictAt(p, Math.max(positive, 0), positive < 0 ? null : rule?.threshold) };
}
