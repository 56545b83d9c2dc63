// --freeze globs end to end: the flag as parsed, the model as built. `*` stays within one dotted
// segment, `**` crosses segments, a bare prefix selects its subtree (nn's nameGlob.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '@cxr/tensor';
import { parseTrainArgs } from '../src/config/trainCommand.ts';
import { buildModel } from '../src/train/build.ts';

beforeAll(async () => {
  await T.getDevice();
});
afterAll(async () => {
  await T.destroyDevice();
});

async function frozenBy(freeze: string): Promise<string[]> {
  const config = await parseTrainArgs(['--arch', 'resnet18', '--weights', 'none', '--freeze', freeze]);
  const { model, frozen } = await buildModel(config!, ['a', 'b'], new T.Generator(0), () => {});
  const stillFrozen = model
    .namedParameters()
    .filter(([, p]) => !p.requiresGrad)
    .map(([n]) => n);
  expect(stillFrozen).toEqual(frozen);
  model.dispose();
  return frozen;
}

describe('--freeze GLOBS on resnet18', () => {
  it("'layer1.*.weight' does not reach layer1.0.conv1.weight (one segment per *): it matches nothing and says so", async () => {
    await expect(frozenBy('layer1.*.weight')).rejects.toThrow(
      /'layer1\.\*\.weight' matches no parameter .*`\*` stays within one dotted segment, `\*\*` crosses segments/,
    );
  });

  it("'layer1*' is one segment too: it does not select layer1's subtree (nor a layer10)", async () => {
    await expect(frozenBy('layer1*')).rejects.toThrow(/'layer1\*' matches no parameter/);
  });

  it("'layer1.*.*.weight' selects exactly the weights two segments below layer1", async () => {
    const frozen = await frozenBy('layer1.*.*.weight');
    expect(frozen).toEqual(['0.conv1', '0.bn1', '0.conv2', '0.bn2', '1.conv1', '1.bn1', '1.conv2', '1.bn2'].map((m) => `layer1.${m}.weight`));
  });

  it("'layer1.**' and the bare prefix 'layer4.1' select whole subtrees; '**.bias' crosses every segment", async () => {
    const sub = await frozenBy('layer1.**');
    expect(sub).toHaveLength(12);
    expect(sub.every((n) => n.startsWith('layer1.'))).toBe(true);
    expect(await frozenBy('layer4.1,fc.bias')).toEqual([
      'layer4.1.conv1.weight',
      'layer4.1.bn1.weight',
      'layer4.1.bn1.bias',
      'layer4.1.conv2.weight',
      'layer4.1.bn2.weight',
      'layer4.1.bn2.bias',
      'fc.bias',
    ]);
    const biases = await frozenBy('**.bias');
    expect(biases.length).toBeGreaterThan(10);
    expect(biases.every((n) => n.endsWith('.bias'))).toBe(true);
  });
});
