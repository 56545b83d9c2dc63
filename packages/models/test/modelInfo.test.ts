// A model file's own description (`cxr.*` metadata), as the CLI and the viewer page both read it.
import { describe, expect, it } from 'vitest';
import { decodeModelInfo, encodeModelInfo } from '../src/weights/modelMetadata.ts';

describe('decodeModelInfo', () => {
  it('reads the cxr.* keys train writes', () => {
    const meta = encodeModelInfo({
      arch: 'vgg16',
      head: 'mlp:530',
      classes: ['covid', 'normal'],
      positiveClass: 'covid',
      inputSize: 224,
      resizeSize: 256,
      resizeFilter: 'bilinear',
      crop: 'center',
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      channels: 'grey-to-rgb',
      version: '1.2.3',
    });
    const info = decodeModelInfo(meta)!;
    expect([info.arch, info.head, info.classes, info.inputSize, info.resizeFilter, info.mean]).toEqual([
      'vgg16',
      'mlp:530',
      ['covid', 'normal'],
      224,
      'bilinear',
      [0.5, 0.5, 0.5],
    ]);
  });

  it("reads the unprefixed keys of CXR's 30 Nov 2026 files with that build's preprocessing (bicubic, size * 256 / 224)", () => {
    // The page used to ask for these by hand and resize with bilinear, 8 % off `cxr predict`'s probabilities.
    const info = decodeModelInfo({ arch: 'resnet18', head: 'replace', image_size: '64', classes: '["infected","normal"]' })!;
    expect(info).not.toBeNull();
    expect([info.arch, info.head, info.classes, info.inputSize, info.resizeSize, info.resizeFilter]).toEqual([
      'resnet18',
      'replace',
      ['infected', 'normal'],
      64,
      73,
      'bicubic',
    ]);
    expect(info.mean).toEqual([0.485, 0.456, 0.406]);
  });

  it('leaves files that do not describe themselves to the caller (null)', () => {
    expect(decodeModelInfo({})).toBeNull();
    expect(decodeModelInfo({ arch: 'resnet18' })).toBeNull();
    expect(decodeModelInfo({ arch: 'resnet18', image_size: '64', classes: 'not json' })).toBeNull();
    expect(decodeModelInfo({ arch: 'resnet18', image_size: '64', classes: '["one"]' })).toBeNull();
  });
});
