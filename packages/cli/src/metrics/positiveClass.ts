/**
 * Which class binary metrics (sensitivity, specificity, F1, AUC) treat as positive. Guessing from
 * sort order would make "sensitivity" silently mean the healthy class for NORMAL/PNEUMONIA, so
 * the default is taken only when it is unambiguous: of two classes, exactly one is named like a
 * negative finding. Otherwise the run stops and asks for --positive.
 */

const negativeName = /^(normal|negative|healthy|no[ _-]?findings?)$/i;

export function isNegativeName(name: string): boolean {
  return negativeName.test(name.trim());
}

/**
 * The positive class name, or null for three or more classes without --positive (binary numbers
 * are then one-vs-rest for the first class; the per-class and macro numbers are what to read).
 */
export function resolvePositiveClass(classes: readonly string[], requested?: string): string | null {
  if (requested) {
    const match = classes.find((c) => c === requested) ?? classes.find((c) => c.toLowerCase() === requested.toLowerCase());
    if (!match) throw new Error(`--positive ${requested}: no such class; the classes are ${classes.join(', ')}`);
    return match;
  }
  if (classes.length !== 2) return null;
  const negatives = classes.filter(isNegativeName);
  if (negatives.length === 1) return classes.find((c) => !isNegativeName(c))!;
  throw new Error(
    `cannot tell which of ${classes.map((c) => `'${c}'`).join(' and ')} is the positive class; pass --positive ${classes[0]} or --positive ${classes[1]}`,
  );
}
