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

/** The `cxr.*` metadata keys (the model-file convention of issue 12) that hold the rule. */
export function decisionMetadata(rule: DecisionRule): Record<string, string> {
  return {
    'cxr.positive_class': rule.positiveClass,
    'cxr.temperature': String(rule.temperature),
    ...(rule.threshold === null ? {} : { 'cxr.threshold': String(rule.threshold), 'cxr.threshold_spec': rule.thresholdSpec ?? '' }),
  };
}

/** The rule stored in a model file, or null for a file without one (argmax, no temperature). */
export function readDecisionRule(file: string): DecisionRule | null {
  const f = openSafetensors(file);
  try {
    const m = f.metadata;
    if (m['cxr.temperature'] === undefined && m['cxr.threshold'] === undefined) return null;
    return {
      positiveClass: m['cxr.positive_class'] ?? '',
      threshold: m['cxr.threshold'] === undefined ? null : Number(m['cxr.threshold']),
      thresholdSpec: m['cxr.threshold_spec'] ?? null,
      temperature: m['cxr.temperature'] === undefined ? 1 : Number(m['cxr.temperature']),
    };
  } finally {
    f.close();
  }
}

/** Calibrated probabilities and the decided class index per row. */
export function applyDecisionRule(probs: readonly ArrayLike<number>[], classNames: readonly string[], rule: DecisionRule | null): { probs: Float64Array[]; predicted: number[] } {
  const p = rule && rule.temperature !== 1 ? applyTemperature(probs, rule.temperature) : probs.map((r) => Float64Array.from(r));
  const positive = rule ? classNames.findIndex((c) => c.toLowerCase() === rule.positiveClass.toLowerCase()) : -1;
  return { probs: p, predicted: predictAt(p, positive < 0 ? 0 : positive, positive < 0 ? null : rule?.threshold) };
}
