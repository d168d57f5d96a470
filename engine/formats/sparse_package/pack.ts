/**
 * Writes a Quartet sparse package from an ONNX model (typically one `pruneOnnx` made): each
 * large float32 weight is stored as a non-zero bit mask plus the non-zero values when that is
 * smaller than storing it whole, optionally in float16, and the rest of the model stays a
 * standard ONNX protobuf inside the package.
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
  /** Smaller float tensors (biases, norms) stay inside the ONNX model (default 256). */
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
  /** Bytes as float32 in the ONNX file. */
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
  /** Size of the input ONNX model. */
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
  checkOptions(options, ["float16", "minElements"], "packSparseModel()", {
    float16: [true, false],
  });
  const minElements = options.minElements ?? 256;
  if (!Number.isInteger(minElements) || minElements < 1) {
    throw new InvalidArgumentError(
      `The minElements option of packSparseModel() must be a positive integer, got ${minElements}`,
    );
  }
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
  const payloads: { entry: PackedTensor; values: Uint8Array; mask?: Uint8Array }[] = [];
  const strip = new Set<number>();
  for (const [name, tensors] of byName) {
    // A name used twice (in different subgraphs) would be ambiguous on load: leave it inline.
    if (tensors.length !== 1) continue;
    const t = tensors[0];
    const values = floatValues(t);
    if (!values || values.length < minElements) continue;
    const dims = t.dims.map(Number);
    let zeros = 0;
    let finite = true;
    let max = 0;
    for (const v of values) {
      if (v === 0) zeros++;
      if (!Number.isFinite(v)) finite = false;
      else max = Math.max(max, Math.abs(v));
    }
    const half = options.float16 === true && finite && max <= FLOAT16_MAX;
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
    payloads.push({
      entry: {
        name,
        dims,
        dtype: half ? "float16" : "float32",
        values: { offset: 0, bytes: stored.length },
        ...(mask ? { mask: { offset: 0, bytes: mask.length } } : {}),
      },
      values: stored,
      mask,
    });
    reports.push({
      name,
      dims,
      zeros: zeros / values.length,
      layout: mask ? "mask" : "dense",
      dtype: half ? "float16" : "float32",
      bytesBefore: values.length * 4,
      bytesAfter: stored.length + (mask?.length ?? 0),
      ...(options.float16 && !half
        ? { note: finite ? `|values| up to ${max} exceed float16` : "non-finite values" }
        : {}),
    });
    // The model keeps the tensor's name and type; its data lives in the package.
    strip.add(t.offset);
  }
  const model = stripTensors(onnx, strip);
  // Data area: the model, then each tensor's mask and values, every section aligned.
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
  return { bytes: out, tensors: reports, inputBytes: onnx.length };
}
