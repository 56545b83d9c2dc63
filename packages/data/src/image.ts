/**
 * A decoded image: HWC float samples in [0, 1]. Grey stays 1 channel through decoding and the
 * transforms (a third of the work); it becomes 3 channels only when the CHW batch is written.
 */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

export function makeImage(width: number, height: number, channels: 1 | 3): Image {
  return { width, height, channels, data: new Float32Array(width * height * channels) };
}
