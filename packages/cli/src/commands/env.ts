// `cxr env`: what a bug report or a "why is it slow" question needs: versions, the WebGPU
// adapter with its limits and features, the cache paths and whether ImageNet weights are there.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import * as T from '@cxr/tensor';
import { cacheDir } from '@cxr/tensor/cacheDir';
import { officialWeights } from '@cxr/models';
import { cxrVersion } from '../config/version.ts';
import { imagenetWeightsPath } from '../train/build.ts';
import { cacheEntries, imageCacheName } from './cache.ts';
import { formatBytes } from '@cxr/data';
import { helpExamples } from './helpExamples.ts';

/** Version of the `webgpu` package (Node's Dawn binding) that @cxr/tensor loads. */
export function dawnBindingVersion(): string {
  try {
    const fromTensor = createRequire(createRequire(import.meta.url).resolve('@cxr/tensor'));
    let dir = dirname(fromTensor.resolve('webgpu'));
    for (let i = 0; i < 4; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'webgpu') return pkg.version ?? 'unknown';
      } catch {
        /* keep walking up */
      }
    }
  } catch {
    /* not resolvable */
  }
  return 'unknown';
}

const shownLimits = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

export async function envReport(): Promise<string> {
  const lines = [
    `cxr ${cxrVersion()}`,
    `node ${process.version} (${process.platform} ${process.arch})`,
    `webgpu ${dawnBindingVersion()} (Dawn, the npm 'webgpu' package)`,
  ];
  try {
    const gpu = await T.getDevice();
    const info = gpu.adapter.info;
    lines.push(`adapter: ${gpu.adapterName}${gpu.isCpuAdapter ? ' (CPU adapter: software rendering, slow; fine for tests and small runs)' : ''}`);
    lines.push(`  vendor '${info.vendor}', architecture '${info.architecture}', device '${info.device}', description '${info.description}'`);
    lines.push(`  features: ${[...gpu.adapter.features].sort().join(', ') || 'none'}`);
    for (const k of shownLimits) {
      const v = gpu.limits[k] as number;
      lines.push(
        `  ${k.padEnd(34)} ${k.startsWith('maxBuffer') || k.startsWith('maxStorageBufferBinding') || k.endsWith('StorageSize') ? `${v} (${formatBytes(v)})` : v}`,
      );
    }
  } catch (e) {
    lines.push(`adapter: none — ${(e as Error).message}`);
  }
  const dir = cacheDir();
  const images = cacheEntries(dir).find((e) => e.name === imageCacheName);
  lines.push(`cache: ${dir}${process.env.CXR_CACHE ? ' (from $CXR_CACHE)' : ''}`);
  lines.push(`  decoded images: ${join(dir, imageCacheName)} (${images ? `${formatBytes(images.bytes)}, ${images.files} files` : 'empty'})`);
  for (const arch of Object.keys(officialWeights)) {
    const p = imagenetWeightsPath(arch);
    lines.push(`  ImageNet ${arch}: ${p ? `cached (${p})` : `not cached — cxr weights pull ${arch}`}`);
  }
  return lines.join('\n');
}

export function envCommand(): Command {
  return new Command('env')
    .description('versions, WebGPU adapter (limits, features), cache paths, cached ImageNet weights')
    .addHelpText('after', helpExamples(['cxr env', 'cxr env > env.txt   # attach to a bug report']))
    .action(async () => {
      console.log(await envReport());
    });
}
