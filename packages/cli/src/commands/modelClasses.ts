// The class names a command reports a model's outputs under (`predict`, `explain`). --classes is
// only for weights files that record none: given for a model that does record its classes, it
// must say the same, or every probability would be printed under another class's name (e.g.
// --classes normal,infected on an infected,normal model reports p(normal) as p(infected)).
import type { ModelSettings } from './evaluate.ts';

export function modelClasses(given: string | undefined, s: Pick<ModelSettings, 'classes' | 'weights'>, source: string): string[] {
  const list = given?.split(',').map((c) => c.trim());
  if (list && s.classes && list.join(',') !== s.classes.join(',')) {
    throw new Error(`--classes ${list.join(',')} contradicts ${source}, which was trained on ${s.classes.join(',')}; drop --classes`);
  }
  const classes = list ?? s.classes;
  if (!classes)
    throw new Error(
      `${s.weights} does not record its class names; pass --classes NAME,NAME in the order the model was trained (sorted folder names), or use --model with a file written by cxr train`,
    );
  return classes;
}
