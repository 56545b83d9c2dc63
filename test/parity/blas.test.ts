// The BLAS under the PyTorch reference. Debian's torch reports BLAS_INFO=generic whatever the
// libblas.so.3 alternative points to; on netlib's reference BLAS its float64 references (the
// parity truth) take minutes longer (VGG16's: 3 min against 46 s), and benchmark baselines would
// be a PyTorch no Debian user gets by default. scripts/setup.sh --with-torch installs OpenBLAS;
// the benchmarks name the library with runtime_blas(), checked here against the alternative.
import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runtimeBlasPy } from '../../benchmarks/src/torchBlas.ts';
import { parityRequired, requireOrSkip, runPythonCode } from './python.ts';

const have = await requireOrSkip('PyTorch BLAS check', ['torch']);

/** What the libblas.so.3 alternative resolves to, by library. */
function installedBlas(): string | undefined {
  try {
    const target = realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3');
    if (target.includes('openblas')) return 'OpenBLAS';
    if (target.includes('/blas/')) return 'reference BLAS';
    return undefined;
  } catch {
    return undefined;
  }
}

describe.runIf(have)('the BLAS PyTorch loads', () => {
  it('runtime_blas() names the library the libblas.so.3 alternative points to; CI runs on OpenBLAS, not the reference BLAS', async () => {
    const name = (await runPythonCode(`import torch\ntorch.ones(8, 8) @ torch.ones(8, 8)\n${runtimeBlasPy}\nprint(runtime_blas())`)).trim();
    console.log(`PyTorch's BLAS: ${name}`);
    expect(name).toMatch(/^(OpenBLAS|MKL|BLIS|reference BLAS)/);
    const installed = installedBlas();
    if (installed) expect(name.startsWith(installed), `${name} against the alternative's ${installed}`).toBe(true);
    // setup.sh --with-torch installs OpenBLAS, and the suite's time depends on it.
    if (parityRequired()) expect(name).toMatch(/^OpenBLAS/);
  });
});
