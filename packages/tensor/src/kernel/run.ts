import { gpu } from '../device/device.ts';
import { bytesPerElement, computeType, wgslType } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';

export type ScalarType = 'f32' | 'u32' | 'i32';

/**
 * Elements [offset, offset + size) of a tensor, bound as if they were the whole tensor (the
 * kernel's index 0 is element `offset`). A linear kernel over a tensor larger than one binding
 * runs once per page on such ranges (`pageRanges`), so its accessors need no page switch: on
 * lavapipe the switch made Adam over VGG16's four-page fc6 weight 42 % slower per element.
 * `offset` must fall on the device's storage-offset alignment (256 bytes) for a kernel argument;
 * host transfers (`mapTensors`, `writeTensor`) need only whole 4-byte words (`byteRange`).
 */
export interface TensorRange {
  tensor: Tensor;
  offset: number;
  size: number;
}

/** A kernel argument as bound: a whole tensor, or a range of one. */
interface Bound {
  tensor: Tensor;
  offset: number;
  size: number;
}

export interface KernelCall {
  /** Op name: labels pipelines so Dawn's messages and ours name it. */
  name: string;
  /** WGSL after the generated prelude: helper functions and `@compute fn main`. */
  body: string;
  inputs?: Record<string, Tensor | TensorRange>;
  /** Written (read_write) tensors; they get `NAME_get` and `NAME_set`, or (used so) `NAME_get4` and `NAME_set4`. */
  outputs: Record<string, Tensor | TensorRange>;
  /** Per-call scalars, read in WGSL as `u.NAME`. They change without recompiling. */
  uniforms?: Record<string, [ScalarType, number]>;
  workgroups: readonly [number, number, number];
}

/**
 * The accessors' types and conversions: float16 storage is read as f32 and rounded on store, so
 * kernels compute in f32 either way; other dtypes pass through unchanged (the same source as ever).
 */
function conversions(ty: string, cty: string) {
  return {
    ty,
    cty,
    load: (e: string) => (ty === cty ? e : `${cty}(${e})`),
    store: (e: string) => (ty === cty ? e : `${ty}(${e})`),
  };
}

/**
 * A tensor larger than one storage binding is bound as several pages of `pageElements`; the
 * accessor then picks the page with a shift and a mask. Small tensors (nearly all) get a plain
 * array access, so paging costs nothing where it is not needed.
 */
function accessors(name: string, t: Bound, firstBinding: number, writable: boolean, pageShift: number): { decl: string; pages: number } {
  const { ty, cty, load, store } = conversions(wgslType(t.tensor.dtype), computeType(t.tensor.dtype));
  const pageElems = 2 ** pageShift;
  const pages = Math.max(1, Math.ceil(t.size / pageElems));
  const access = writable ? 'read_write' : 'read';
  let decl = '';
  if (pages === 1) {
    decl += `@group(0) @binding(${firstBinding}) var<storage, ${access}> ${name}: array<${ty}>;\n`;
    decl += `fn ${name}_get(i: u32) -> ${cty} { return ${load(`${name}[i]`)}; }\n`;
    if (writable) decl += `fn ${name}_set(i: u32, value_: ${cty}) { ${name}[i] = ${store('value_')}; }\n`;
    return { decl, pages };
  }
  for (let p = 0; p < pages; p++) decl += `@group(0) @binding(${firstBinding + p}) var<storage, ${access}> ${name}_p${p}: array<${ty}>;\n`;
  const mask = `${pageElems - 1}u`;
  const cases = (stmt: (p: number) => string) =>
    Array.from({ length: pages }, (_, p) => (p === pages - 1 ? `    default: { ${stmt(p)} }` : `    case ${p}u: { ${stmt(p)} }`)).join('\n');
  decl += `fn ${name}_get(i: u32) -> ${cty} {\n  let o = i & ${mask};\n  switch (i >> ${pageShift}u) {\n${cases((p) => `return ${load(`${name}_p${p}[o]`)};`)}\n  }\n}\n`;
  if (writable)
    decl += `fn ${name}_set(i: u32, value_: ${cty}) {\n  let o = i & ${mask};\n  switch (i >> ${pageShift}u) {\n${cases((p) => `${name}_p${p}[o] = ${store('value_')};`)}\n  }\n}\n`;
  return { decl, pages };
}

/**
 * `NAME_get4(j)`: elements 4j..4j+3 as one vec4 load, through a vec4-typed view of the same pages
 * (generated only when a kernel body calls it; needs a size divisible by 4, and pages hold a power
 * of two ≥ 4 elements, so an aligned vec4 never straddles two pages). An input keeps its scalar
 * view beside it (two read-only bindings of one buffer are allowed); a written tensor gets the
 * vec4 view alone, read_write with `NAME_set4(j, v)`, since WebGPU forbids binding a buffer that
 * is written a second time in the same dispatch.
 */
function vec4Accessor(name: string, t: Bound, firstBinding: number, writable: boolean, pageShift: number, op: string): { decl: string; pages: number } {
  if (t.tensor.dtype === 'int32' || t.size % 4 !== 0)
    throw new Error(
      `${op}: ${name}_get4 needs a float tensor whose size is a multiple of 4, got ${t.tensor.dtype} [${t.tensor.shape.join(',')}] (${t.size} elements bound)`,
    );
  const { ty, cty, load, store } = conversions(`vec4<${wgslType(t.tensor.dtype)}>`, `vec4<${computeType(t.tensor.dtype)}>`);
  const pages = Math.max(1, Math.ceil(t.size / 2 ** pageShift));
  const access = writable ? 'read_write' : 'read';
  let decl = '';
  for (let p = 0; p < pages; p++) decl += `@group(0) @binding(${firstBinding + p}) var<storage, ${access}> ${name}_v${p}: array<${ty}>;\n`;
  if (pages === 1) {
    decl += `fn ${name}_get4(j: u32) -> ${cty} { return ${load(`${name}_v0[j]`)}; }\n`;
    if (writable) decl += `fn ${name}_set4(j: u32, value_: ${cty}) { ${name}_v0[j] = ${store('value_')}; }\n`;
    return { decl, pages };
  }
  const shift = pageShift - 2;
  const cases = (stmt: (p: number) => string) =>
    Array.from({ length: pages }, (_, p) => (p === pages - 1 ? `    default: { ${stmt(p)} }` : `    case ${p}u: { ${stmt(p)} }`)).join('\n');
  const page = `  let o = j & ${2 ** shift - 1}u;\n  switch (j >> ${shift}u) {\n`;
  decl += `fn ${name}_get4(j: u32) -> ${cty} {\n${page}${cases((p) => `return ${load(`${name}_v${p}[o]`)};`)}\n  }\n}\n`;
  if (writable) decl += `fn ${name}_set4(j: u32, value_: ${cty}) {\n${page}${cases((p) => `${name}_v${p}[o] = ${store('value_')};`)}\n  }\n}\n`;
  return { decl, pages };
}

function bindingEntries(t: Bound, first: number, pages: number, pageElements: number, op: string): GPUBindGroupEntry[] {
  const s = t.tensor.storage(op);
  const pageBytes = pageElements * bytesPerElement[t.tensor.dtype];
  const start = t.offset * bytesPerElement[t.tensor.dtype];
  const bytes = Math.max(4, t.size * bytesPerElement[t.tensor.dtype]);
  const out: GPUBindGroupEntry[] = [];
  for (let p = 0; p < pages; p++) {
    const offset = p * pageBytes;
    const size = Math.min(pageBytes, bytes - offset);
    out.push({ binding: first + p, resource: { buffer: s.buffer, offset: start + offset, size: Math.ceil(size / 4) * 4 } });
  }
  return out;
}

/** A kernel argument as bound, its range checked. */
function bound(op: string, name: string, a: Tensor | TensorRange): Bound {
  if (!('tensor' in a)) return { tensor: a, offset: 0, size: a.size };
  const { tensor, offset, size } = a;
  const align = gpu().limits.minStorageBufferOffsetAlignment;
  if (!(Number.isInteger(offset) && Number.isInteger(size) && offset >= 0 && size >= 1 && offset + size <= tensor.size))
    throw new Error(`${op}: '${name}' binds elements [${offset}, ${offset + size}) of a tensor of ${tensor.size}`);
  if ((offset * bytesPerElement[tensor.dtype]) % align !== 0)
    throw new Error(`${op}: '${name}' binds from element ${offset}, not on the ${align}-byte storage-offset alignment`);
  return { tensor, offset, size };
}

/**
 * The ranges, one per binding page, that a linear kernel over `n` elements runs on one after the
 * other (see `TensorRange`): one range where `n` fits a binding.
 */
export function pageRanges(n: number): { offset: number; size: number }[] {
  const page = gpu().pageElements;
  const out: { offset: number; size: number }[] = [];
  for (let offset = 0; offset < n; offset += page) out.push({ offset, size: Math.min(page, n - offset) });
  return out;
}

/** What a kernel body uses, found once per body (the same string object on every call where its generator is memoised). */
interface BodyUse {
  /** Accessors it calls: `x_get4(` → 'x_get4'. */
  accessors: Set<string>;
  subgroups: boolean;
  uniforms: boolean;
}
const bodyUses = new Map<string, BodyUse>();

function bodyUse(body: string): BodyUse {
  let b = bodyUses.get(body);
  if (!b) {
    b = {
      accessors: new Set(Array.from(body.matchAll(/\b(\w+_[gs]et4?)\(/g), (m) => m[1])),
      subgroups: /\bsubgroup[A-Z]\w*\(|subgroup_invocation_id|subgroup_size/.test(body),
      uniforms: /\bu\.\w/.test(body),
    };
    bodyUses.set(body, b);
  }
  return b;
}

/** Generates the bindings, compiles (once per source) and records one dispatch. */
export function runKernel(call: KernelCall): void {
  const g = gpu();
  const inputs = Object.entries(call.inputs ?? {}).map(([n, a]) => [n, bound(call.name, n, a)] as const);
  const outputs = Object.entries(call.outputs).map(([n, a]) => [n, bound(call.name, n, a)] as const);
  const range = (t: Bound) => (t.size === t.tensor.size ? '' : `@${t.offset}+${t.size}`);
  const shapes = [...inputs, ...outputs].map(([n, t]) => `${n}[${t.tensor.shape.join(',')}]${range(t)}`).join(' ');
  const label = `${call.name} ${shapes}`;
  const names = new Set<string>();
  let prelude = '';
  const half = [...inputs, ...outputs].find(([, t]) => t.tensor.dtype === 'float16');
  if (half) {
    if (!g.device.features.has('shader-f16'))
      throw new Error(`${label}: '${half[0]}' is float16, but this adapter (${g.adapterName}) has no shader-f16 feature: use float32`);
    prelude += 'enable f16;\n';
  }
  // Kernels that use subgroup builtins must check \`hasSubgroups()\` first and keep a fallback.
  const use = bodyUse(call.body);
  if (g.device.features.has('subgroups') && use.subgroups) prelude += 'enable subgroups;\n';
  const entries: GPUBindGroupEntry[] = [];
  let binding = 0;
  const used = use.accessors;
  for (const [list, writable] of [
    [inputs, false],
    [outputs, true],
  ] as const) {
    for (const [name, t] of list) {
      if (names.has(name)) throw new Error(`${call.name}: kernel argument '${name}' given twice`);
      names.add(name);
      const uses4 = used.has(`${name}_get4`) || used.has(`${name}_set4`);
      const usesScalar = used.has(`${name}_get`) || used.has(`${name}_set`);
      if (writable && uses4 && usesScalar) throw new Error(`${call.name}: written tensor '${name}' is used through both scalar and vec4 accessors`);
      // Layout 'auto' drops bindings the shader never uses: skip the scalar view if only get4 is.
      if (!uses4 || usesScalar) {
        const { decl, pages } = accessors(name, t, binding, writable, g.pageShift);
        prelude += decl;
        entries.push(...bindingEntries(t, binding, pages, g.pageElements, call.name));
        binding += pages;
      }
      if (uses4) {
        const v = vec4Accessor(name, t, binding, writable, g.pageShift, label);
        prelude += v.decl;
        entries.push(...bindingEntries(t, binding, v.pages, g.pageElements, call.name));
        binding += v.pages;
      }
    }
  }
  const maxStorage = g.limits.maxStorageBuffersPerShaderStage;
  if (binding > maxStorage) {
    throw new Error(
      `${label}: needs ${binding} storage bindings (large tensors are split into pages of ${g.pageElements} elements), over this device's limit of ${maxStorage}`,
    );
  }
  // Nothing to run (an op over a 0-size tensor): return before compiling. A shader generated for
  // an empty shape may not even be valid WGSL (broadcast index code dividing by a 0 dimension,
  // `r % 0u`), and the WebGPU error it raised surfaced at the next, unrelated readback.
  const [x, y, z] = call.workgroups;
  if (x === 0 || y === 0 || z === 0) return;
  // Pipelines use layout 'auto', which drops bindings the shader never reads: declare the
  // uniform block only when the body uses it.
  const uniforms = use.uniforms ? Object.entries(call.uniforms ?? {}) : [];
  let uniformBinding: GPUBufferBinding | null = null;
  if (uniforms.length > 0) {
    prelude += `struct Uniforms {\n${uniforms.map(([n, [ty]]) => `  ${n}: ${ty},`).join('\n')}\n}\n`;
    prelude += `@group(0) @binding(${binding}) var<uniform> u: Uniforms;\n`;
    const data = new ArrayBuffer(Math.max(16, Math.ceil((uniforms.length * 4) / 16) * 16));
    const dv = new DataView(data);
    uniforms.forEach(([n, [ty, v]], i) => {
      if (ty === 'f32') dv.setFloat32(i * 4, v, true);
      else if (ty === 'u32') dv.setUint32(i * 4, v >>> 0, true);
      else dv.setInt32(i * 4, v | 0, true);
      if (ty !== 'f32' && !Number.isInteger(v)) throw new Error(`${call.name}: uniform ${n} must be an integer, got ${v}`);
    });
    uniformBinding = g.batcher.uniforms(data);
  }
  const pipeline = g.pipelines.get(prelude, call.body, label);
  if (uniformBinding) entries.push({ binding, resource: uniformBinding });
  const maxWg = g.limits.maxComputeWorkgroupsPerDimension;
  if (x > maxWg || y > maxWg || z > maxWg) throw new Error(`${label}: dispatch of ${x}x${y}x${z} workgroups exceeds ${maxWg} per dimension`);
  const bindGroup = g.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
  g.batcher.dispatch(pipeline, bindGroup, [x, y, z]);
}

/**
 * Workgroup grid for `n` invocations in workgroups of `size`, folded into two dimensions past the
 * 65535-per-dimension limit. Kernels compute their flat index with `linearIndex(size)`.
 */
export function grid1d(n: number, size: number): [number, number, number] {
  const groups = Math.ceil(n / size);
  const maxWg = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxWg) return [groups, 1, 1];
  const y = Math.ceil(groups / maxWg);
  return [Math.ceil(groups / y), y, 1];
}

/** The `main` signature and flat index that go with `grid1d`. */
export function linearMain(size: number, bodyUsingI: string): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.x + wid.y * nwg.x) * ${size}u + lid;
${bodyUsingI}
}
`;
}
