/**
 * The decision rule (@cxr/models: temperature fitted on validation, threshold on p(positive)
 * chosen on validation) as a run produces it and as a model file on disk holds it.
 */
import { decodeDecisionRule, openSafetensors, type DecisionRule } from '@cxr/models';
import type { Evidence } from '../report/evidence.ts';

/** The rule a run's evidence implies: its validation threshold and temperature. */
export function decisionRuleOf(e: Evidence): DecisionRule {
  return {
    positiveClass: Object.values(e.intervals)[0]?.positiveClass ?? '',
    threshold: e.threshold?.value ?? null,
    thresholdSpec: e.threshold?.spec ?? null,
    temperature: e.calibration.temperature ?? 1,
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
  return decodeDecisionRule(m, file);
}
