/**
 * How a trained model turns its probabilities into a decision, stored beside ModelInfo in the
 * model file's safetensors metadata so that every reader (`cxr predict`, `eval`, `explain`, the
 * browser page) applies exactly what the report measured: the temperature fitted on validation
 * (1 = none) and the threshold on p(positive) chosen on validation (two classes only).
 * Pure: no file system, usable in a browser.
 */

const prefix = 'cxr.';

export interface DecisionRule {
  positiveClass: string;
  /** null: argmax. */
  threshold: number | null;
  /** How the threshold was chosen ('youden', 'sens:0.95', …). */
  thresholdSpec: string | null;
  temperature: number;
}

/**
 * Metadata keys of the rule, under ModelInfo's `cxr.` prefix (modelMetadata.ts) in the same header.
 * The positive class is ModelInfo's `cxr.positive_class`, one key for one fact: written here only
 * with a threshold (the only case the rule needs it, always two classes), with the value the
 * model info holds, so a multi-class model trained without a positive class keeps none.
 */
export function encodeDecisionRule(rule: DecisionRule): Record<string, string> {
  return {
    [`${prefix}temperature`]: String(rule.temperature),
    ...(rule.threshold === null
      ? {}
      : {
          [`${prefix}positive_class`]: rule.positiveClass,
          [`${prefix}threshold`]: String(rule.threshold),
          [`${prefix}threshold_spec`]: rule.thresholdSpec ?? '',
        }),
  };
}

/** The rule in a file's metadata, or null for a file without one (argmax, no temperature). */
export function decodeDecisionRule(meta: Record<string, string>, file = 'model file'): DecisionRule | null {
  const get = (k: string): string | undefined => meta[prefix + k];
  if (get('temperature') === undefined && get('threshold') === undefined) return null;
  const temperature = get('temperature') === undefined ? 1 : Number(get('temperature'));
  if (!Number.isFinite(temperature) || temperature <= 0)
    throw new Error(`${file}: metadata '${prefix}temperature' is '${get('temperature')}'; it must be a positive number`);
  const threshold = get('threshold') === undefined ? null : Number(get('threshold'));
  if (threshold !== null && !(threshold >= 0 && threshold <= 1))
    throw new Error(`${file}: metadata '${prefix}threshold' is '${get('threshold')}'; it must be a probability in [0, 1]`);
  return { positiveClass: get('positive_class') ?? '', threshold, thresholdSpec: get('threshold_spec') ?? null, temperature };
}

/** Softmax of log(p) / T: the probabilities a temperature T gives (log-probabilities are logits up to a constant). */
export function applyTemperature(probs: readonly ArrayLike<number>[], temperature: number): Float64Array[] {
  return probs.map((row) => {
    const z = Array.from(row, (p) => Math.log(Math.max(p, 1e-12)) / temperature);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return Float64Array.from(e, (v) => v / s);
  });
}

/** Class index per row: p(positive) >= threshold decides for two classes; otherwise (or with no threshold) the most probable class. */
export function predictAt(probs: readonly ArrayLike<number>[], positive: number, threshold: number | null | undefined): number[] {
  return probs.map((row) => {
    if (threshold === null || threshold === undefined || row.length !== 2) return argmax(row);
    return row[positive] >= threshold ? positive : 1 - positive;
  });
}

/** Calibrated probabilities and the decided class index per row. */
export function applyDecisionRule(
  probs: readonly ArrayLike<number>[],
  classNames: readonly string[],
  rule: DecisionRule | null,
): { probs: Float64Array[]; predicted: number[] } {
  const p = rule && rule.temperature !== 1 ? applyTemperature(probs, rule.temperature) : probs.map((r) => Float64Array.from(r));
  const positive = positiveIndex(classNames, rule);
  return { probs: p, predicted: predictAt(p, Math.max(positive, 0), positive < 0 ? null : rule?.threshold) };
}

/** The rule's positive class among the model's classes (case-insensitive), or -1 (then argmax decides). */
export function positiveIndex(classNames: readonly string[], rule: DecisionRule | null): number {
  return rule ? classNames.findIndex((c) => c.toLowerCase() === rule.positiveClass.toLowerCase()) : -1;
}

/** The most probable class's index (the first on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
