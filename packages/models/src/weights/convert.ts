// `cxr weights convert in.pth out.safetensors`: PyTorch checkpoint (any torch.save layout) to
// safetensors, streaming one tensor at a time so VGG16 converts with ~one layer in memory.

import { basename } from 'node:path';
import { storedItemSize, numelOf } from './hostTensor.ts';
import { writeSafetensorsFile } from './safetensorsFile.ts';
import { type TorchCheckpointFormat, openTorchCheckpoint } from './torchCheckpoint.ts';

export interface ConvertResult {
  format: TorchCheckpointFormat;
  tensors: number;
  /** Bytes of tensor data written. */
  dataBytes: number;
}

export function convertCheckpoint(inPath: string, outPath: string, options: { metadata?: Record<string, string> } = {}): ConvertResult {
  const ckpt = openTorchCheckpoint(inPath);
  try {
    // "format": "pt" is the convention other safetensors tools use for PyTorch-named weights.
    const metadata = { format: 'pt', source: basename(inPath), ...options.metadata };
    writeSafetensorsFile(outPath, ckpt.tensors, metadata);
    const dataBytes = ckpt.tensors.reduce((s, t) => s + numelOf(t.shape) * storedItemSize[t.dtype], 0);
    return { format: ckpt.format, tensors: ckpt.tensors.length, dataBytes };
  } finally {
    ckpt.close();
  }
}
