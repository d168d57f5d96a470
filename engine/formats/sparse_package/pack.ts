/**
 * Writes a Quartet sparse package from an ONNX model (typically one `pruneOnnx` made) or a
 * safetensors checkpoint (`pruneMamba`): each large float weight is stored as a non-zero bit
 * mask plus the non-zero values when that is smaller than storing it whole, optionally in
 * float16, and the rest of the model stays a standard ONNX protobuf (or safetensors file)
 * inside the package.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError } from "../../errors.ts";
import { checkOptions } from "../../options.ts";
import {
  DataType,
  EXTERNAL,
  type GraphProto,
  type ModelProto,
  readModel,
  type TensorProto,
} from "../onnx/proto.ts";
import { rewriteMessage, varintField } from "../onnx/wire.ts";
import { FLOAT16_MAX, float32ToFloat16 } from "../float16.ts";
import {
  decodeSafetensorsData,
  safetensorsDataStart,
  safetensorsElementBytes,
  safetensorsTensors,
} from "../safetensors/safetensors.ts";
import { type SafetensorsEntry, writeSafetensors } from "../safetensors/write.ts";
import {
  alignTo,
  PACKAGE_MAGIC,
  PACKAGE_VERSION,
  type PackageHeader,
  type PackedTensor,
  PREFIX_BYTES,
  SECTION_ALIGN,
} from "./format.ts";

/** Options of `packSparseModel`. */
export interface PackOptions {
  /** Store values as float16 (half the bytes; weights round to 11 significant bits). */
  float16?: boolean;
  /** Smaller float tensors (biases, norms) stay inside the model, ONNX or safetensors (256). */
  minElements?: number;
}

/** How one tensor was stored. */
export interface PackedTensorReport {
  /** Tensor name. */
  name: string;
  /** Its dims. */
  dims: number[];
  /** Fraction of zero elements. */
  zeros: number;
  /** "mask" (non-zeros + bit mask) or "dense" (every element). */
  layout: "mask" | "dense";
  /** Stored element type. */
  dtype: "float32" | "float16";
  /** Bytes in the input file. */
  bytesBefore: number;
  /** Bytes in the package (values plus mask). */
  bytesAfter: number;
  /** Why float16 was not used although asked for (values out of its range). */
  note?: string;
}

/** A written package. */
export interface PackResult {
  /** The package file. */
  bytes: Uint8Array;
  /** One row per packed tensor. */
  tensors: PackedTensorReport[];
  /** Size of the input model (ONNX or safetensors). */
  inputBytes: number;
}

/** Every float tensor in the model's graphs: initializers and Constant node values. */
function weightTensors(graph: GraphProto, out: Map<string, TensorProto[]>): void {
  const add = (name: string, t: TensorProto) => out.set(name, [...(out.get(name) ?? []), t]);
  for (const t of graph.initializer) add(t.name, t);
  for (const node of graph.node) {
    for (const a of node.attribute) {
      if (node.opType === "Constant" && a.name === "value" && a.t) add(node.output[0], a.t);
      if (a.g) weightTensors(a.g, out);
      for (const g of a.graphs) weightTensors(g, out);
    }
  }
}

/** The float32 values of a tensor stored in the file, or undefined when not plain float32. */
function floatValues(t: TensorProto): Float32Array | undefined {
  if (t.dataType !== DataType.FLOAT) return undefined;
  if (t.dataLocation === EXTERNAL) return undefined;
  const size = t.dims.reduce((s, d) => s * Number(d), 1);
  if (t.rawData.length) {
    if (t.rawData.length !== size * 4) return undefined;
    const copy = t.rawData.slice();
    return new Float32Array(copy.buffer, 0, size);
  }
  return t.floatData.length === size ? Float32Array.from(t.floatData) : undefined;
}

/**
 * The model bytes with the data of the tensors that start at `strip` (byte offsets) removed
 * and their dims set to [0]; every other byte is kept, unknown fields included.
 */
function stripTensors(onnx: Uint8Array, strip: ReadonlySet<number>): Uint8Array {
  const tensor = (t: Uint8Array) =>
    strip.has(t.byteOffset)
      ? concat(rewriteMessage(t, (f) => (f === 1 || f === 4 || f === 9 ? null : undefined)), DIMS_0)
      : undefined;
  // Where tensors live: ModelProto.graph (7) → GraphProto.initializer (5) | node (1) →
  // NodeProto.attribute (5) → AttributeProto.t (5) | g (6) | graphs (11).
  const graph = (g: Uint8Array): Uint8Array =>
    rewriteMessage(
      g,
      (f, v) => (!v ? undefined : f === 5 ? tensor(v) : f === 1 ? node(v) : undefined),
    );
  const node = (n: Uint8Array) =>
    rewriteMessage(n, (f, v) => (v && f === 5 ? attribute(v) : undefined));
  const attribute = (a: Uint8Array) =>
    rewriteMessage(
      a,
      (f, v) => (!v ? undefined : f === 5 ? tensor(v) : f === 6 || f === 11 ? graph(v) : undefined),
    );
  return rewriteMessage(onnx, (f, v) => (v && f === 7 ? graph(v) : undefined));
}

/** TensorProto.dims = [0]. */
const DIMS_0 = varintField(1, 0);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Little-endian bytes of values (the host is little-endian: Wasm hosts are). */
function bytesOf(v: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Packs an ONNX model into a Quartet sparse package. The input bytes are not modified.
 * `loadModel` reads the package like an ONNX file (bytes, path or URL).
 *
 * @example
 * ```ts ignore
 * const pruned = await pruneOnnx(onnxBytes, { scheme: "c4n:2", calibration });
 * const { bytes, tensors } = packSparseModel(pruned.bytes, { float16: true });
 * await Deno.writeFile("model.qsp", bytes);
 * const model = await loadModel("model.qsp");
 * ```
 */
export function packSparseModel(onnx: Uint8Array, options: PackOptions = {}): PackResult {
  const minElements = checkPackOptions(options, "packSparseModel()");
  let proto: ModelProto;
  try {
    proto = readModel(onnx);
  } catch (cause) {
    throw new ModelFormatError(
      `Cannot pack: the input is not a valid ONNX model (${(cause as Error).message}); check ` +
        `the file is complete and is an ONNX model`,
      { cause },
    );
  }
  if (!proto.graph) throw new ModelFormatError("Cannot pack: the ONNX model has no graph");
  const byName = new Map<string, TensorProto[]>();
  weightTensors(proto.graph, byName);
  const reports: PackedTensorReport[] = [];
  const payloads: Payload[] = [];
  const strip = new Set<number>();
  for (const [name, tensors] of byName) {
    // A name used twice (in different subgraphs) would be ambiguous on load: leave it inline.
    if (tensors.length !== 1) continue;
    const t = tensors[0];
    const values = floatValues(t);
    if (!values || values.length < minElements) continue;
    const { payload, report } = encodeTensor(name, t.dims.map(Number), values, options.float16);
    payloads.push(payload);
    reports.push(report);
    // The model keeps the tensor's name and type; its data lives in the package.
    strip.add(t.offset);
  }
  const bytes = writePackage(stripTensors(onnx, strip), "onnx", payloads);
  return { bytes, tensors: reports, inputBytes: onnx.length };
}

/** One tensor's package entry and its sections' bytes (offsets set by `writePackage`). */
interface Payload {
  entry: PackedTensor;
  values: Uint8Array;
  mask?: Uint8Array;
}

/**
 * Encodes a tensor's float32 values: as a bit mask plus the non-zeros when that is smaller
 * than every value, in float16 when `float16` is asked for and every value is finite and in
 * its range (`exactHalves`: the values are halves already, so float16 loses nothing).
 */
function encodeTensor(
  name: string,
  dims: number[],
  values: Float32Array,
  float16 = false,
  exactHalves = false,
): { payload: Payload; report: PackedTensorReport } {
  let zeros = 0;
  let finite = true;
  let max = 0;
  for (const v of values) {
    if (v === 0) zeros++;
    if (!Number.isFinite(v)) finite = false;
    else max = Math.max(max, Math.abs(v));
  }
  const half = (float16 || exactHalves) && finite && max <= FLOAT16_MAX;
  const width = half ? 2 : 4;
  const maskBytes = Math.ceil(values.length / 8);
  const masked = maskBytes + (values.length - zeros) * width < values.length * width;
  let kept = values;
  let mask: Uint8Array | undefined;
  if (masked) {
    mask = new Uint8Array(maskBytes);
    kept = new Float32Array(values.length - zeros);
    let j = 0;
    for (let i = 0; i < values.length; i++) {
      if (values[i] === 0) continue;
      mask[i >> 3] |= 1 << (i & 7);
      kept[j++] = values[i];
    }
  }
  const stored = bytesOf(half ? float32ToFloat16(kept) : kept);
  return {
    payload: {
      entry: {
        name,
        dims,
        dtype: half ? "float16" : "float32",
        values: { offset: 0, bytes: stored.length },
        ...(mask ? { mask: { offset: 0, bytes: mask.length } } : {}),
      },
      values: stored,
      mask,
    },
    report: {
      name,
      dims,
      zeros: zeros / values.length,
      layout: mask ? "mask" : "dense",
      dtype: half ? "float16" : "float32",
      bytesBefore: values.length * (exactHalves ? 2 : 4),
      bytesAfter: stored.length + (mask?.length ?? 0),
      ...(float16 && !half
        ? { note: finite ? `|values| up to ${max} exceed float16` : "non-finite values" }
        : {}),
    },
  };
}

/** The package file: prefix, header, then the model and each tensor's sections, aligned. */
function writePackage(
  model: Uint8Array,
  modelFormat: "onnx" | "safetensors",
  payloads: Payload[],
): Uint8Array {
  let at = alignTo(model.length, SECTION_ALIGN);
  for (const p of payloads) {
    if (p.entry.mask) {
      p.entry.mask.offset = at;
      at = alignTo(at + p.entry.mask.bytes, SECTION_ALIGN);
    }
    p.entry.values.offset = at;
    at = alignTo(at + p.entry.values.bytes, SECTION_ALIGN);
  }
  const header: PackageHeader = {
    producer: "quartet",
    // Absent means ONNX: packages written before safetensors ones existed have no such field.
    ...(modelFormat === "onnx" ? {} : { modelFormat }),
    model: { offset: 0, bytes: model.length },
    tensors: payloads.map((p) => p.entry),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = alignTo(PREFIX_BYTES + json.length, SECTION_ALIGN);
  const out = new Uint8Array(dataStart + at);
  const prefix = new DataView(out.buffer);
  out.set(PACKAGE_MAGIC, 0);
  prefix.setUint32(4, PACKAGE_VERSION, true);
  prefix.setUint32(8, json.length, true);
  out.set(json, PREFIX_BYTES);
  out.set(model, dataStart);
  for (const p of payloads) {
    if (p.mask) out.set(p.mask, dataStart + p.entry.mask!.offset);
    out.set(p.values, dataStart + p.entry.values.offset);
  }
  return out;
}

/**
 * Packs a safetensors file (a Mamba checkpoint, typically one `pruneMamba` made) into a Quartet
 * sparse package: each tensor of at least `minElements` as a bit mask plus its non-zeros when
 * that is smaller (float16 with `float16`, and always for tensors stored as F16, which are
 * halves already), the rest as a safetensors file inside the package, in their stored dtype.
 * `loadMamba` reads a checkpoint directory's `model.qsp`. The input bytes are not modified.
 */
export function packSafetensors(
  bytes: Uint8Array,
  options: PackOptions = {},
  file = "model.safetensors",
): PackResult {
  const minElements = checkPackOptions(options, "packSafetensors()");
  const dataStart = safetensorsDataStart(bytes.subarray(0, 8), bytes.length, file);
  const infos = safetensorsTensors(bytes.subarray(8, dataStart), dataStart, bytes.length, file);
  const reports: PackedTensorReport[] = [];
  const payloads: Payload[] = [];
  const kept: SafetensorsEntry[] = [];
  for (const [name, info] of infos) {
    const stored = bytes.subarray(
      info.offset,
      info.offset + info.size * safetensorsElementBytes(info.dtype),
    );
    if (info.size < minElements) {
      kept.push({ name, dtype: info.dtype, shape: info.dims, data: stored });
      continue;
    }
    const values = new Float32Array(info.size);
    decodeSafetensorsData(info.dtype, stored, values);
    const { payload, report } = encodeTensor(
      name,
      info.dims,
      values,
      options.float16,
      info.dtype === "F16",
    );
    payloads.push(payload);
    reports.push(report);
  }
  // The file's own metadata (string pairs, e.g. {"format": "pt"}) stays with the kept tensors.
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart)));
  const meta = header.__metadata__;
  const strings = typeof meta === "object" && meta !== null &&
    Object.values(meta).every((v) => typeof v === "string");
  const out = writePackage(
    writeSafetensors(kept, strings ? meta as Record<string, string> : undefined),
    "safetensors",
    payloads,
  );
  return { bytes: out, tensors: reports, inputBytes: bytes.length };
}

/**
 * Whether `bytes` start like a safetensors file: an 8-byte header length that fits, then "{"
 * (an ONNX model starts with a protobuf field tag instead).
 */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[8] !== 0x7b) return false;
  const len = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return len <= BigInt(bytes.length - 8);
}

/** Checks the options of a packer; returns minElements. */
function checkPackOptions(options: PackOptions, fn: string): number {
  checkOptions(options, ["float16", "minElements"], fn, { float16: [true, false] });
  const minElements = options.minElements ?? 256;
  if (!Number.isInteger(minElements) || minElements < 1) {
    throw new InvalidArgumentError(
      `The minElements option of ${fn} must be a positive integer, got ${minElements}`,
    );
  }
  return minElements;
}
