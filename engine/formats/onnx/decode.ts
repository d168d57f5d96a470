/**
 * ONNX → IR. Bytes are read by `proto.ts` (the subset of the schema in `onnx.proto`); this
 * module turns messages into the engine's IR and validates everything a hostile or broken
 * file could get wrong, before allocating: element counts, raw data lengths, data types,
 * dangling edges, duplicate producers and cycles.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { float16ToFloat32 } from "../float16.ts";
import {
  type AttributeValue,
  capturedNames,
  type Dim,
  type Graph,
  type Model,
  type Node,
  subgraphs,
  type ValueInfo,
} from "../../ir/graph.ts";
import { type DType, MAX_ELEMENTS, Tensor } from "../../tensor.ts";
import { markFloat16Origin } from "../../weights/f16_gemv.ts";
import {
  type AttributeProto,
  AttributeType as AT,
  codeName,
  DataType as DT,
  EXTERNAL,
  type GraphProto,
  type ModelProto,
  readModel,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";

/** Reads `length` bytes (all when undefined) at `offset` of an external data file. */
export type ExternalDataLoader = (
  location: string,
  offset: number,
  length: number | undefined,
) => Uint8Array | Promise<Uint8Array>;

/** Options of `decodeOnnx`. */
export interface DecodeOnnxOptions {
  /** Name used in error messages (the file name). */
  name?: string;
  /** Loads tensors stored outside the model file; required for models that use them. */
  loadExternal?: ExternalDataLoader;
  /** Expand float16 / bfloat16 initializers to float32 (default true). */
  expandFloat16?: boolean;
}

const utf8 = new TextDecoder();

/** The element type ONNX data type codes become, or undefined when unsupported. */
const STORED: Partial<Record<number, DType>> = {
  [DT.FLOAT]: "float32",
  [DT.DOUBLE]: "float32",
  [DT.FLOAT16]: "float16",
  [DT.BFLOAT16]: "float32",
  [DT.INT64]: "int64",
  [DT.UINT64]: "int64",
  [DT.INT32]: "int32",
  [DT.UINT32]: "int64",
  [DT.INT16]: "int32",
  [DT.UINT16]: "int32",
  [DT.INT8]: "int8",
  [DT.UINT8]: "uint8",
  [DT.BOOL]: "bool",
};

/** Bytes per element in raw_data for each supported code. */
const RAW_BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 4,
  [DT.DOUBLE]: 8,
  [DT.FLOAT16]: 2,
  [DT.BFLOAT16]: 2,
  [DT.INT64]: 8,
  [DT.UINT64]: 8,
  [DT.INT32]: 4,
  [DT.UINT32]: 4,
  [DT.INT16]: 2,
  [DT.UINT16]: 2,
  [DT.INT8]: 1,
  [DT.UINT8]: 1,
  [DT.BOOL]: 1,
};

/**
 * The element type of an ONNX data type code (for value infos). `what` starts the error
 * message, so it starts with a capital (`Value "x" of model "m.onnx"`).
 */
export function dtypeOf(code: number, what: string): DType {
  const t = STORED[code];
  if (!t) {
    throw new ModelFormatError(`${what} has data type ${typeName(code)}, which is not supported`);
  }
  return t === "float16" ? "float32" : t;
}

/** A data type code's name ("STRING"), or the number when it has none. */
function typeName(code: number): string {
  return codeName(DT, code) ?? String(code);
}

/** The value names a graph can read: `has` answers for the graph and its enclosing ones. */
interface NameScope {
  has(name: string): boolean;
}

class Decoder {
  readonly #file: string;
  readonly #opt: DecodeOnnxOptions;
  #generated = 0;

  constructor(options: DecodeOnnxOptions) {
    this.#file = options.name ?? "model";
    this.#opt = options;
  }

  fail(what: string): ModelFormatError {
    return new ModelFormatError(`Cannot load model "${this.#file}": ${what}`);
  }

  dims(raw: readonly bigint[], what: string): number[] {
    let size = 1;
    const dims = raw.map((d) => {
      if (d < 0n || d > BigInt(MAX_ELEMENTS)) throw this.fail(`${what} has dimension ${d}`);
      size *= Number(d);
      return Number(d);
    });
    if (size > MAX_ELEMENTS) {
      throw this.fail(`${what} declares ${size} elements ([${dims.join(", ")}]), too many`);
    }
    return dims;
  }

  /** Decodes a tensor; a promise only when its data lives in an external file. */
  tensor(t: TensorProto, fallbackName: string): Tensor | Promise<Tensor> {
    const name = t.name || fallbackName;
    const what = `tensor "${name}"`;
    const dims = this.dims(t.dims, what);
    const n = dims.reduce((a, b) => a * b, 1);
    const code = t.dataType;
    const type = STORED[code];
    if (!type) {
      throw this.fail(`${what} has data type ${typeName(code)}, which is not supported`);
    }
    if (t.segment) throw this.fail(`${what} is segmented, which is not supported`);
    if (t.dataLocation === EXTERNAL) {
      return this.external(t, what).then((raw) => this.fromRaw(raw, code, dims, n, what));
    }
    const raw = t.rawData;
    if (raw.length > 0 || n === 0) return this.fromRaw(raw, code, dims, n, what);
    return this.fromTyped(t, code, dims, n, what);
  }

  async external(t: TensorProto, what: string): Promise<Uint8Array> {
    const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
    const location = kv.get("location");
    if (!location) throw this.fail(`${what} is external but names no location`);
    if (!this.#opt.loadExternal) {
      throw this.fail(
        `${what} lives in external file "${location}", which cannot be read when the model ` +
          `is given as bytes: load the model from its path or URL, with "${location}" beside it`,
      );
    }
    const offset = Number(kv.get("offset") ?? 0);
    const length = kv.has("length") ? Number(kv.get("length")) : undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && !(length >= 0))) {
      throw this.fail(`${what} has a bad external offset or length`);
    }
    try {
      return await this.#opt.loadExternal(location, offset, length);
    } catch (cause) {
      if (cause instanceof ModelFormatError) throw cause;
      throw new ModelFormatError(
        `Cannot load model "${this.#file}": ${what}: cannot read "${location}": ${cause}`,
        { cause },
      );
    }
  }

  fromRaw(raw: Uint8Array, code: number, dims: number[], n: number, what: string): Tensor {
    const size = RAW_BYTES[code]!;
    if (raw.length !== n * size) {
      throw this.fail(
        `${what} has ${raw.length} bytes of data, its dims [${dims.join(", ")}] need ${n * size}`,
      );
    }
    // One copy into an aligned buffer; typed views read little-endian (every host we target).
    const buf = raw.slice().buffer;
    switch (code) {
      case DT.FLOAT:
        return new Tensor("float32", new Float32Array(buf), dims);
      case DT.DOUBLE:
        return new Tensor("float32", Float32Array.from(new Float64Array(buf)), dims);
      case DT.FLOAT16: {
        const bits = new Uint16Array(buf);
        return this.#opt.expandFloat16 === false
          ? new Tensor("float16", bits, dims)
          : markFloat16Origin(new Tensor("float32", float16ToFloat32(bits), dims));
      }
      case DT.BFLOAT16: {
        const bits = new Uint16Array(buf);
        const out = new Float32Array(n);
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
        return new Tensor("float32", out, dims);
      }
      case DT.INT64:
      case DT.UINT64:
        return new Tensor("int64", new BigInt64Array(buf), dims);
      case DT.UINT32:
        return new Tensor(
          "int64",
          BigInt64Array.from(new Uint32Array(buf), (v) => BigInt(v)),
          dims,
        );
      case DT.INT32:
        return new Tensor("int32", new Int32Array(buf), dims);
      case DT.INT16:
        return new Tensor("int32", Int32Array.from(new Int16Array(buf)), dims);
      case DT.UINT16:
        return new Tensor("int32", Int32Array.from(new Uint16Array(buf)), dims);
      case DT.INT8:
        return new Tensor("int8", new Int8Array(buf), dims);
      case DT.UINT8:
        return new Tensor("uint8", new Uint8Array(buf), dims);
      case DT.BOOL:
        return new Tensor("bool", Uint8Array.from(new Uint8Array(buf), (v) => (v ? 1 : 0)), dims);
    }
    throw this.fail(`${what}: data type ${typeName(code)} is not supported`);
  }

  fromTyped(t: TensorProto, code: number, dims: number[], n: number, what: string): Tensor {
    const check = (len: number) => {
      if (len !== n) {
        throw this.fail(
          `${what} has ${len} values, its dims [${dims.join(", ")}] need ${n}`,
        );
      }
    };
    switch (code) {
      case DT.FLOAT:
        check(t.floatData.length);
        return new Tensor("float32", Float32Array.from(t.floatData), dims);
      case DT.DOUBLE:
        check(t.doubleData.length);
        return new Tensor("float32", Float32Array.from(t.doubleData), dims);
      case DT.INT64:
        check(t.int64Data.length);
        return new Tensor("int64", BigInt64Array.from(t.int64Data), dims);
      case DT.UINT64:
        check(t.uint64Data.length);
        return new Tensor(
          "int64",
          BigInt64Array.from(t.uint64Data, (v) => BigInt.asIntN(64, v)),
          dims,
        );
      case DT.UINT32:
        check(t.uint64Data.length);
        return new Tensor("int64", BigInt64Array.from(t.uint64Data), dims);
      case DT.INT32:
      case DT.INT16:
      case DT.UINT16:
        check(t.int32Data.length);
        return new Tensor("int32", Int32Array.from(t.int32Data), dims);
      case DT.INT8:
        check(t.int32Data.length);
        return new Tensor("int8", Int8Array.from(t.int32Data), dims);
      case DT.UINT8:
        check(t.int32Data.length);
        return new Tensor("uint8", Uint8Array.from(t.int32Data), dims);
      case DT.BOOL:
        check(t.int32Data.length);
        return new Tensor("bool", Uint8Array.from(t.int32Data, (v) => (v ? 1 : 0)), dims);
      case DT.FLOAT16:
      case DT.BFLOAT16: {
        check(t.int32Data.length);
        const bits = Uint16Array.from(t.int32Data);
        if (code === DT.BFLOAT16) {
          return new Tensor(
            "float32",
            Float32Array.from(bits, (b) => {
              const u = new Uint32Array([b << 16]);
              return new Float32Array(u.buffer)[0];
            }),
            dims,
          );
        }
        return this.#opt.expandFloat16 === false
          ? new Tensor("float16", bits, dims)
          : markFloat16Origin(new Tensor("float32", float16ToFloat32(bits), dims));
      }
    }
    throw this.fail(`${what}: data type ${typeName(code)} is not supported`);
  }

  valueInfo(v: ValueInfoProto, where: string): ValueInfo {
    if (!v.name) throw this.fail(`${where} has a value without a name`);
    const tt = v.type?.tensorType;
    if (!tt) return { name: v.name, type: "float32" };
    if (!STORED[tt.elemType]) {
      throw this.fail(
        `value "${v.name}" has data type ${typeName(tt.elemType)}, which is not supported`,
      );
    }
    const type = dtypeOf(tt.elemType, `Value "${v.name}"`);
    if (!tt.shape) return { name: v.name, type };
    const dims: Dim[] = tt.shape.dim.map((d, i) => {
      if (d.dimValue !== undefined) {
        if (d.dimValue < 0n || d.dimValue > BigInt(MAX_ELEMENTS)) {
          throw this.fail(`value "${v.name}" has dimension ${d.dimValue}`);
        }
        return Number(d.dimValue);
      }
      if (d.dimParam) return d.dimParam;
      return `?${i}`;
    });
    return { name: v.name, type, dims };
  }

  /** Decodes an attribute; a promise for graphs and external tensors. */
  attribute(
    a: AttributeProto,
    node: string,
    scope: NameScope,
  ): AttributeValue | Promise<AttributeValue> {
    const what = `attribute "${a.name}" of node "${node}"`;
    switch (a.type) {
      case AT.FLOAT:
        return a.f;
      case AT.INT:
        return Number(a.i);
      case AT.STRING:
        return utf8.decode(a.s);
      case AT.FLOATS:
        return [...a.floats];
      case AT.INTS:
        return a.ints.map(Number);
      case AT.STRINGS:
        return a.strings.map((s) => utf8.decode(s));
      case AT.TENSOR:
        if (!a.t) throw this.fail(`${what} has no tensor`);
        return this.tensor(a.t, `${node}.${a.name}`);
      case AT.TENSORS:
        return Promise.all(
          a.tensors.map((t, i) => this.tensor(t, `${node}.${a.name}[${i}]`)),
        );
      case AT.GRAPH:
        if (!a.g) throw this.fail(`${what} has no graph`);
        return this.graph(a.g, `${node}.${a.name}`, scope);
      case AT.GRAPHS:
        return Promise.all(
          a.graphs.map((g, i) => this.graph(g, `${node}.${a.name}[${i}]`, scope)),
        );
    }
    // Files from old exporters leave `type` unset: infer it from the field that is filled.
    if (a.type === AT.UNDEFINED) {
      if (a.ints.length) return a.ints.map(Number);
      if (a.floats.length) return [...a.floats];
      if (a.strings.length) return a.strings.map((s) => utf8.decode(s));
      if (a.t) return this.tensor(a.t, `${node}.${a.name}`);
      if (a.g) return this.graph(a.g, `${node}.${a.name}`, scope);
      if (a.s.length) return utf8.decode(a.s);
      if (a.i !== 0n) return Number(a.i);
      return a.f;
    }
    throw this.fail(
      `${what} has type ${codeName(AT, a.type) ?? a.type}, which is not supported`,
    );
  }

  /**
   * Decodes a graph. `outer` holds the names enclosing graphs define (subgraphs may read
   * them). Nodes come back topologically sorted.
   */
  async graph(g: GraphProto, label: string, outer: NameScope): Promise<Graph> {
    const initializers = new Map<string, Tensor>();
    for (const [i, t] of g.initializer.entries()) {
      const decoded = this.tensor(t, `${label}.initializer[${i}]`);
      const tensor = decoded instanceof Promise ? await decoded : decoded;
      if (!t.name) throw this.fail(`initializer ${i} of graph "${label}" has no name`);
      initializers.set(t.name, tensor);
    }
    if (g.sparseInitializers) {
      throw this.fail(`graph "${label}" uses sparse initializers, which are not supported`);
    }
    const inputs = g.input.map((v) => this.valueInfo(v, `graph "${label}"`))
      .filter((v) => !initializers.has(v.name));
    const outputs = g.output.map((v) => this.valueInfo(v, `graph "${label}"`));
    const valueInfo = new Map<string, ValueInfo>();
    for (const v of g.valueInfo) {
      const info = this.valueInfo(v, `graph "${label}"`);
      valueInfo.set(info.name, info);
    }
    // Names visible to this graph's nodes and its subgraphs: its own, then the enclosing ones
    // (a chain, not a copy per graph: silero VAD nests 50 graphs).
    const local = new Set<string>(initializers.keys());
    for (const i of inputs) local.add(i.name);
    const scope: NameScope = { has: (name) => local.has(name) || outer.has(name) };
    // Generated names avoid every name the file gives, also those of later nodes.
    const given = new Set(g.node.map((n) => n.name).filter((n) => n));
    const names = new Set<string>();
    const protoNodes = g.node.map((n, i) => {
      let name = n.name;
      while (!name || names.has(name) || (name !== n.name && given.has(name))) {
        name = `${n.opType || "node"}_${this.#generated++}_${i}`;
      }
      names.add(name);
      return { proto: n, name };
    });
    for (const { proto } of protoNodes) for (const o of proto.output) if (o) local.add(o);
    const nodes: Node[] = [];
    for (const { proto, name } of protoNodes) {
      if (!proto.opType) throw this.fail(`node "${name}" has no operator type`);
      const attributes: Record<string, AttributeValue> = {};
      for (const a of proto.attribute) {
        if (!a.name) throw this.fail(`node "${name}" has an attribute without a name`);
        if (a.refAttrName) {
          throw this.fail(`node "${name}": attribute references (functions) are not supported`);
        }
        const value = this.attribute(a, name, scope);
        attributes[a.name] = value instanceof Promise ? await value : value;
      }
      nodes.push({
        name,
        op: proto.opType,
        domain: proto.domain === "ai.onnx" ? "" : proto.domain,
        inputs: [...proto.input],
        outputs: [...proto.output],
        attributes,
      });
    }
    const graph: Graph = {
      name: g.name || label,
      nodes: this.sort(
        nodes,
        label,
        new Set([...initializers.keys(), ...inputs.map((i) => i.name)]),
        outer,
      ),
      inputs,
      outputs,
      initializers,
      valueInfo,
    };
    return graph;
  }

  /**
   * Whether every node comes after the producers of what it reads (its subgraphs' reads
   * included), as exporters nearly always write them: then the file's order is kept and the
   * sort is skipped. A read nothing produces answers false, for the sort to report.
   */
  inOrder(
    nodes: readonly Node[],
    producer: ReadonlyMap<string, Node>,
    own: ReadonlySet<string>,
    outer: NameScope,
  ): boolean {
    const done = new Set<Node>();
    for (const n of nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        const p = producer.get(i);
        if (p ? !done.has(p) : !own.has(i) && !outer.has(i)) return false;
      }
      // What a subgraph reads from further out is checked by the subgraph's own sort.
      for (const g of subgraphs(n)) {
        for (const c of capturedNames(g)) {
          const p = producer.get(c);
          if (p && !done.has(p)) return false;
        }
      }
      done.add(n);
    }
    return true;
  }

  /** Kahn's sort; names the dangling input, the duplicate producer or a node in a cycle. */
  sort(
    nodes: Node[],
    label: string,
    own: ReadonlySet<string>,
    outer: NameScope,
  ): Node[] {
    const producer = new Map<string, Node>();
    for (const n of nodes) {
      for (const o of n.outputs) {
        if (!o) continue;
        // A subgraph may shadow an enclosing name, but not its own inputs or initializers.
        if (producer.has(o) || own.has(o)) {
          throw this.fail(
            `value "${o}" in graph "${label}" is produced twice (node "${n.name}" and ${
              producer.has(o) ? `node "${producer.get(o)!.name}"` : "a graph input or initializer"
            })`,
          );
        }
        producer.set(o, n);
      }
    }
    if (this.inOrder(nodes, producer, own, outer)) return nodes;
    const waiting = new Map<Node, number>();
    const readers = new Map<string, Node[]>();
    for (const n of nodes) {
      let count = 0;
      // Values a subgraph reads from this graph order the node after their producers too.
      const reads = new Set(n.inputs);
      for (const g of subgraphs(n)) {
        for (const c of capturedNames(g)) {
          if (producer.has(c) || own.has(c)) reads.add(c);
        }
      }
      for (const i of reads) {
        if (!i) continue;
        if (producer.has(i)) {
          count++;
          const r = readers.get(i) ?? [];
          r.push(n);
          readers.set(i, r);
        } else if (!own.has(i) && !outer.has(i)) {
          throw this.fail(`node "${n.name}" (${n.op}) reads "${i}", which nothing produces`);
        }
      }
      waiting.set(n, count);
    }
    const ready = nodes.filter((n) => waiting.get(n) === 0);
    const out: Node[] = [];
    for (let k = 0; k < ready.length; k++) {
      const n = ready[k];
      out.push(n);
      for (const o of n.outputs) {
        for (const r of readers.get(o) ?? []) {
          const left = waiting.get(r)! - 1;
          waiting.set(r, left);
          if (left === 0) ready.push(r);
        }
      }
    }
    if (out.length !== nodes.length) {
      const stuck = nodes.find((n) => waiting.get(n)! > 0)!;
      throw this.fail(`graph "${label}" has a cycle through node "${stuck.name}" (${stuck.op})`);
    }
    return out;
  }

  async model(m: ModelProto): Promise<Model> {
    if (!m.graph) throw this.fail("the file has no graph (is it an ONNX model?)");
    const opsets: Record<string, number> = {};
    for (const o of m.opsetImport) {
      opsets[o.domain === "ai.onnx" ? "" : o.domain] = Number(o.version);
    }
    if (m.opsetImport.length === 0) opsets[""] = 1;
    const graph = await this.graph(m.graph, m.graph.name || "main", new Set());
    if (graph.outputs.length === 0) throw this.fail("the graph has no outputs");
    return { graph, opsets, producer: m.producerName || undefined };
  }
}

/**
 * Decodes ONNX model bytes into the engine IR.
 *
 * @example
 * ```ts ignore
 * const model = await decodeOnnx(await Deno.readFile("model.onnx"), { name: "model.onnx" });
 * console.log(model.graph.nodes.length);
 * ```
 */
export async function decodeOnnx(
  bytes: Uint8Array,
  options: DecodeOnnxOptions = {},
): Promise<Model> {
  const d = new Decoder(options);
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw d.fail("the file is empty");
  let proto: ModelProto;
  try {
    proto = readModel(bytes);
  } catch (cause) {
    throw new ModelFormatError(
      `Cannot load model "${options.name ?? "model"}": not a valid ONNX file (${
        (cause as Error).message
      }): check the file is complete and is an ONNX model`,
      { cause },
    );
  }
  return await d.model(proto);
}
