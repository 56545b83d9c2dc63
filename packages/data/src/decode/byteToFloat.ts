/**
 * 8-bit sample to float in [0, 1]: `BYTE_TO_FLOAT[v]` is float32(v * (1 / 255)), the value every
 * 8-bit decoder path writes (PNG, JPEG), so one file gives the same floats whichever path decoded it.
 */
export const BYTE_TO_FLOAT = new Float32Array(256);
{
  const inv = 1 / 255;
  for (let i = 0; i < 256; i++) BYTE_TO_FLOAT[i] = i * inv;
}
