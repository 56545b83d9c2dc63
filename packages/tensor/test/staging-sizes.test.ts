import { describe, expect, it } from 'vitest';
import { StagingBuffers } from '../src/kernel/staging.ts';
import { useDevice } from './helpers.ts';

// For the GPUBufferUsage flags the buffers are created with.
useDevice();

// Only the sizes matter here: a device that records what it is asked to create.
function countingDevice() {
  const sizes: number[] = [];
  const device = {
    createBuffer: ({ size }: { size: number }) => {
      sizes.push(size);
      return { size, unmap() {}, destroy() {} };
    },
  };
  return { device: device as unknown as GPUDevice, sizes };
}

describe('read-back staging buffer sizes', () => {
  const MiB = 2 ** 20;
  it('a large read takes the whole kept size at once, so the larger reads after it reuse that buffer', () => {
    const { device, sizes } = countingDevice();
    const staging = new StagingBuffers(device, 64 * MiB);
    // A checkpoint's first group (45 MB), then full 64 MiB groups.
    for (const bytes of [45 * 10 ** 6, 64 * MiB, 64 * MiB, 30 * MiB]) staging.give(staging.take(bytes, 'read'));
    expect(sizes).toEqual([64 * MiB]);
  });

  it('the whole kept size from exactly a quarter of it; just below, rounded to 1 MiB', () => {
    for (const [bytes, created] of [
      [16 * MiB, 64 * MiB],
      [16 * MiB - 8, 16 * MiB],
    ]) {
      const { device, sizes } = countingDevice();
      new StagingBuffers(device, 64 * MiB).take(bytes!, 'read');
      expect(sizes).toEqual([created]);
    }
  });

  it('small reads stay small, mid-sized ones round to 1 MiB, reads over the kept size get their own', () => {
    const { device, sizes } = countingDevice();
    const staging = new StagingBuffers(device, 64 * MiB);
    staging.give(staging.take(12, 'loss'));
    staging.give(staging.take(3 * MiB + 5, 'mid'));
    staging.give(staging.take(2 * MiB, 'mid, reused'));
    staging.give(staging.take(100 * MiB, 'huge'));
    staging.give(staging.take(3 * MiB, 'still the 4 MiB one'));
    expect(sizes).toEqual([16, 4 * MiB, 100 * MiB]);
  });
});
