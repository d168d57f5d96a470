/**
 * Reads a Quartet sparse package into the IR: validates the prefix, the JSON header and every
 * section before touching the data (bounds, alignment, overlaps, mask counts, float16 values
 * finite), decodes the embedded ONNX model, and puts each packed tensor back where the model
 * names it (an initializer or a Constant node, in any subgraph). Every problem is a
 * `ModelFormatError` naming the file and the tensor.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { type Graph, type Model, subgraphs } from "../../ir/graph.ts";
import { MAX_ELEMENTS, Tensor } from "../../tensor.ts";
import { float16ToFloat32 } from "../float16.ts";
import { decodeOnnx } from "../onnx/decode.ts";
import { markFloat16Origin } from "../../weights/f16_gemv.ts";
import { popcount } from "../../weights/popcount.ts";
import {
  alignTo,
  isSparsePackage,
  PACKAGE_VERSION,
  type PackageHeader,
  type PackedTensor,
  PREFIX_BYTES,
  type Section,
  SECTION_ALIGN,
} from "./format.ts";

/** Makes the error for a problem (`what`), naming the file. */
export type Fail = (what: string) => ModelFormatError;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** A section checked against the data area: integers, aligned, in bounds. */
function section(v: unknown, dataBytes: number, what: string, fail: Fail): Section {
  if (!isRecord(v) || !isCount(v.offset) || !isCount(v.bytes)) {
    throw fail(`${what}: expected { offset, bytes } with non-negative integers`);
  }
  if (v.offset % SECTION_ALIGN !== 0) {
    throw fail(`${what}: offset ${v.offset} is not a multiple of ${SECTION_ALIGN}`);
  }
  if (v.offset + v.bytes > dataBytes) {
    throw fail(
      `${what}: bytes ${v.offset}..${v.offset + v.bytes} run past the end of the data ` +
        `(${dataBytes} bytes; the file may be truncated)`,
    );
  }
  return { offset: v.offset, bytes: v.bytes };
}

/** The header's tensor entry, every field checked. */
function tensorEntry(v: unknown, i: number, dataBytes: number, fail: Fail): PackedTensor {
  if (!isRecord(v) || typeof v.name !== "string" || v.name === "") {
    throw fail(`tensor entry ${i} has no name`);
  }
  const what = `tensor "${v.name}"`;
  if (!Array.isArray(v.dims) || !v.dims.every(isCount)) {
    throw fail(`${what}: dims must be non-negative integers`);
  }
  const size = (v.dims as number[]).reduce((s, d) => s * d, 1);
  if (size > MAX_ELEMENTS) throw fail(`${what}: ${size} elements is more than supported`);
  if (v.dtype !== "float32" && v.dtype !== "float16") {
    throw fail(`${what}: dtype ${JSON.stringify(v.dtype)} is not "float32" or "float16"`);
  }
  const values = section(v.values, dataBytes, `${what} values`, fail);
  const mask = v.mask === undefined ? undefined : section(v.mask, dataBytes, `${what} mask`, fail);
  if (mask && mask.bytes !== Math.ceil(size / 8)) {
    throw fail(
      `${what}: mask has ${mask.bytes} bytes, ${size} elements need ${Math.ceil(size / 8)}`,
    );
  }
  const width = v.dtype === "float16" ? 2 : 4;
  if (values.bytes % width !== 0) {
    throw fail(`${what}: ${values.bytes} value bytes is not a whole number of ${v.dtype}`);
  }
  if (!mask && values.bytes / width !== size) {
    throw fail(`${what}: ${values.bytes / width} values for ${size} elements`);
  }
  return { name: v.name, dims: v.dims as number[], dtype: v.dtype, values, mask };
}

/**
 * Parses and checks the prefix and header of a package of `fileLength` bytes whose first bytes
 * (at least the prefix and the JSON header) are `bytes`; returns it with the data area's start.
 */
export function readPackageHeader(
  bytes: Uint8Array,
  fail: Fail,
  fileLength = bytes.length,
): { header: PackageHeader; dataStart: number } {
  if (!isSparsePackage(bytes) || bytes.length < PREFIX_BYTES) {
    throw fail("not a Quartet sparse package (bad magic or shorter than its prefix)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== PACKAGE_VERSION) {
    throw fail(
      `package version ${version}; this build reads version ${PACKAGE_VERSION} ` +
        `(re-pack the model with this version's packSparseModel or \`cli.ts pack\`)`,
    );
  }
  const jsonBytes = view.getUint32(8, true);
  if (PREFIX_BYTES + jsonBytes > Math.min(bytes.length, fileLength)) {
    throw fail(
      `the header claims ${jsonBytes} bytes but the file has ${fileLength} (truncated?)`,
    );
  }
  let raw: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true })
      .decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + jsonBytes));
    raw = JSON.parse(text);
  } catch (cause) {
    throw fail(`the header is not valid UTF-8 JSON (${(cause as Error).message})`);
  }
  const dataStart = alignTo(PREFIX_BYTES + jsonBytes, SECTION_ALIGN);
  const dataBytes = fileLength - dataStart;
  if (dataBytes < 0) throw fail("the file ends inside its header padding (truncated?)");
  if (!isRecord(raw) || !Array.isArray(raw.tensors)) {
    throw fail("the header lacks its tensors list");
  }
  const model = section(raw.model, dataBytes, "model", fail);
  const tensors = raw.tensors.map((t, i) => tensorEntry(t, i, dataBytes, fail));
  // Sections must not overlap: a hostile header could alias one tensor's bytes as another's.
  const spans = [
    { s: model, what: "model" },
    ...tensors.flatMap((t) => [
      { s: t.values, what: `tensor "${t.name}" values` },
      ...(t.mask ? [{ s: t.mask, what: `tensor "${t.name}" mask` }] : []),
    ]),
  ].filter((x) => x.s.bytes > 0).sort((a, b) => a.s.offset - b.s.offset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (prev.s.offset + prev.s.bytes > spans[i].s.offset) {
      throw fail(`${prev.what} overlaps ${spans[i].what}`);
    }
  }
  const producer = typeof raw.producer === "string" ? raw.producer : "unknown";
  const modelFormat = raw.modelFormat ?? "onnx";
  if (modelFormat !== "onnx" && modelFormat !== "safetensors") {
    throw fail(`modelFormat ${JSON.stringify(modelFormat)} is not "onnx" or "safetensors"`);
  }
  return { header: { producer, modelFormat, model, tensors }, dataStart };
}

/** The tensor's float32 values, from its section(s) of the data area. */
export function decodePackedTensor(
  data: Uint8Array,
  t: PackedTensor,
  fail: Fail,
): Tensor<"float32"> {
  const out = new Float32Array(t.dims.reduce((s, d) => s * d, 1));
  const mask = t.mask && data.subarray(t.mask.offset, t.mask.offset + t.mask.bytes);
  expandPackedTensor(
    t,
    data.subarray(t.values.offset, t.values.offset + t.values.bytes),
    mask,
    out,
    fail,
  );
  // Float16 values (zeros included) are exact halves: marked, the f16 GEMV may keep them.
  const x = new Tensor("float32", out, t.dims);
  return t.dtype === "float16" ? markFloat16Origin(x) : x;
}

/**
 * Writes a packed tensor's float32 values into `into` (its size) from the bytes of its values
 * and mask sections, checking them: float16 values finite, the mask's set bits as many as the
 * values and none past the last element.
 */
export function expandPackedTensor(
  t: PackedTensor,
  values: Uint8Array,
  mask: Uint8Array | undefined,
  into: Float32Array,
  fail: Fail,
): void {
  const what = `tensor "${t.name}"`;
  const size = into.length;
  const raw = values.byteOffset % 4 === 0 ? values : values.slice();
  let stored: Float32Array;
  if (t.dtype === "float16") {
    const bits = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    for (let i = 0; i < bits.length; i++) {
      // An all-ones exponent is Inf or NaN: the packer never writes one.
      if ((bits[i] & 0x7c00) === 0x7c00) {
        const kind = bits[i] & 0x3ff ? "NaN" : "infinite";
        throw fail(`${what}: float16 value ${i} is ${kind}; re-pack the model`);
      }
    }
    stored = mask ? float16ToFloat32(bits) : float16ToFloat32(bits, into);
  } else {
    stored = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    if (!mask) into.set(stored);
  }
  if (!mask) return;
  let set = 0;
  for (const b of mask) set += popcount(b);
  if (set !== stored.length) {
    throw fail(`${what}: the mask marks ${set} non-zeros but ${stored.length} values are stored`);
  }
  if (size % 8 && mask[mask.length - 1] >> (size % 8)) {
    throw fail(`${what}: the mask has bits set past its ${size} elements`);
  }
  into.fill(0);
  let j = 0;
  for (let i = 0; i < size; i++) if (mask[i >> 3] & (1 << (i & 7))) into[i] = stored[j++];
}

/** Puts packed tensors back into a graph and its subgraphs, noting each name it placed. */
function restore(
  graph: Graph,
  tensors: Map<string, () => Tensor>,
  placed: Set<string>,
  fail: Fail,
): void {
  const place = (name: string, current: Tensor): Tensor => {
    if (placed.has(name)) throw fail(`tensor "${name}" appears more than once in the model`);
    if (current.dims.length !== 1 || current.dims[0] !== 0 || current.type !== "float32") {
      throw fail(`the model's tensor "${name}" still has data, so the package cannot fill it`);
    }
    placed.add(name);
    return tensors.get(name)!();
  };
  for (const [name, t] of graph.initializers) {
    if (tensors.has(name)) graph.initializers.set(name, place(name, t));
  }
  for (const node of graph.nodes) {
    const value = node.attributes.value;
    if (node.op === "Constant" && value instanceof Tensor && tensors.has(node.outputs[0])) {
      node.attributes.value = place(node.outputs[0], value);
    }
    for (const g of subgraphs(node)) restore(g, tensors, placed, fail);
  }
}

/**
 * Loads a package into an IR model. `name` names the file in errors.
 */
export async function unpackSparsePackage(bytes: Uint8Array, name = "model"): Promise<Model> {
  const fail: Fail = (what) => new ModelFormatError(`Cannot load package "${name}": ${what}`);
  const { header, dataStart } = readPackageHeader(bytes, fail);
  if (header.modelFormat === "safetensors") {
    throw fail(
      "it holds a safetensors checkpoint (a Mamba model), not an ONNX model: load its " +
        "directory with loadMamba",
    );
  }
  const data = bytes.subarray(dataStart);
  const model = await decodeOnnx(
    data.subarray(header.model.offset, header.model.offset + header.model.bytes),
    { name },
  );
  const byName = new Map<string, () => Tensor>();
  for (const t of header.tensors) {
    if (byName.has(t.name)) throw fail(`tensor "${t.name}" is listed twice`);
    byName.set(t.name, () => decodePackedTensor(data, t, fail));
  }
  const placed = new Set<string>();
  restore(model.graph, byName, placed, fail);
  const missing = header.tensors.find((t) => !placed.has(t.name));
  if (missing) throw fail(`tensor "${missing.name}" is not in the model`);
  return model;
}
