/**
 * The ONNX messages Quartet reads (the subset in `onnx.proto`), decoded straight from the
 * wire into plain objects. Field names follow the generated `gen/onnx_pb.ts` (which the
 * pruner and the tests use to write models); fields and messages outside the subset are
 * skipped, as are fields whose wire type does not match the schema (as protobuf does with
 * unknown fields). Unset fields read as their defaults: "", 0, 0n, [] or undefined.
 *
 * @module
 */
import { I32, I64, LEN, VARINT, WireReader } from "./wire.ts";

/** ONNX `TensorProto.DataType` codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

/** ONNX `AttributeProto.AttributeType` codes. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** `TensorProto.DataLocation.EXTERNAL`: the data lives in another file. */
export const EXTERNAL = 1;

/** The name of a code in one of the tables above, or undefined. */
export function codeName(table: Record<string, number>, code: number): string | undefined {
  return Object.keys(table).find((k) => table[k] === code);
}

/** A key-value pair. */
export interface StringStringEntryProto {
  /** Key. */
  key: string;
  /** Value. */
  value: string;
}

/** A tensor's data and metadata. */
export interface TensorProto {
  /** Dimensions. */
  dims: bigint[];
  /** A `DataType` code. */
  dataType: number;
  /** Set when the tensor is one segment of a larger one (unsupported). */
  segment: boolean;
  /** Typed values. */
  floatData: number[];
  /** Typed values (int32, int16, int8, uint16, uint8, bool, float16 bits). */
  int32Data: number[];
  /** Typed values. */
  int64Data: bigint[];
  /** Name. */
  name: string;
  /** Little-endian packed values (a view into the file). */
  rawData: Uint8Array;
  /** Where external data lives ("location", "offset", "length"). */
  externalData: StringStringEntryProto[];
  /** 0 (default) or `EXTERNAL`. */
  dataLocation: number;
  /** Typed values. */
  doubleData: number[];
  /** Typed values (uint32, uint64). */
  uint64Data: bigint[];
  /** Byte offset (in the underlying buffer) of this message's encoded fields. */
  offset: number;
}

/** One dimension: a value, a symbolic name, or neither. */
export interface DimensionProto {
  /** Fixed size. */
  dimValue?: bigint;
  /** Symbolic name. */
  dimParam?: string;
}

/** A tensor type: element type and optional shape. */
export interface TensorTypeProto {
  /** A `DataType` code. */
  elemType: number;
  /** The shape, when known. */
  shape?: { dim: DimensionProto[] };
}

/** A named value with its type (only tensor types are read). */
export interface ValueInfoProto {
  /** Name. */
  name: string;
  /** Its type when it is a tensor type. */
  type?: { tensorType?: TensorTypeProto };
}

/** A node attribute. */
export interface AttributeProto {
  /** Name. */
  name: string;
  /** Set in function bodies (unsupported). */
  refAttrName: string;
  /** An `AttributeType` code (0 in files from old exporters). */
  type: number;
  /** FLOAT. */
  f: number;
  /** INT. */
  i: bigint;
  /** STRING. */
  s: Uint8Array;
  /** TENSOR. */
  t?: TensorProto;
  /** GRAPH. */
  g?: GraphProto;
  /** FLOATS. */
  floats: number[];
  /** INTS. */
  ints: bigint[];
  /** STRINGS. */
  strings: Uint8Array[];
  /** TENSORS. */
  tensors: TensorProto[];
  /** GRAPHS. */
  graphs: GraphProto[];
}

/** A node. */
export interface NodeProto {
  /** Input names ("" for an omitted optional input). */
  input: string[];
  /** Output names. */
  output: string[];
  /** Name. */
  name: string;
  /** Operator type. */
  opType: string;
  /** Operator domain. */
  domain: string;
  /** Attributes. */
  attribute: AttributeProto[];
}

/** A graph. */
export interface GraphProto {
  /** Nodes. */
  node: NodeProto[];
  /** Name. */
  name: string;
  /** Constant tensors. */
  initializer: TensorProto[];
  /** How many sparse initializers it has (unsupported). */
  sparseInitializers: number;
  /** Inputs. */
  input: ValueInfoProto[];
  /** Outputs. */
  output: ValueInfoProto[];
  /** Types of intermediate values. */
  valueInfo: ValueInfoProto[];
}

/** An operator set a model imports. */
export interface OperatorSetIdProto {
  /** Domain ("" or "ai.onnx" for the default one). */
  domain: string;
  /** Version. */
  version: bigint;
}

/** A model file. */
export interface ModelProto {
  /** Imported operator sets. */
  opsetImport: OperatorSetIdProto[];
  /** The tool that wrote it. */
  producerName: string;
  /** The main graph. */
  graph?: GraphProto;
}

/**
 * Unset repeated fields (most of them: an attribute fills one of five) share this frozen
 * empty array instead of allocating their own; `own` gives a field its own array before its
 * first value. Readers of the decoded messages never modify them.
 */
const NONE: never[] = Object.freeze([]) as never[];
/** The one empty byte array unset bytes fields share. */
const NO_BYTES = new Uint8Array(0);

function own<M, K extends keyof M>(message: M, field: K): M[K] {
  if (message[field] === NONE) message[field] = [] as M[K];
  return message[field];
}

/** Reads a message's fields with `field`, which returns false for fields it does not know. */
function each(r: WireReader, field: (n: number, wire: number) => boolean | void): void {
  while (r.next()) {
    const n = r.field;
    const wire = r.wire;
    if (field(n, wire) === false) r.skip(wire, n);
  }
}

const int64 = (r: WireReader) => r.int64();
const uint64 = (r: WireReader) => r.int64(true);
const int32 = (r: WireReader) => r.int32();
const float = (r: WireReader) => r.float();
const double = (r: WireReader) => r.double();

function entry(r: WireReader): StringStringEntryProto {
  const e = { key: "", value: "" };
  each(r, (n, w) => {
    if (w !== LEN || n > 2) return false;
    e[n === 1 ? "key" : "value"] = r.string();
  });
  return e;
}

/** Reads a TensorProto (merging into `t` when the field repeats, as protobuf does). */
export function readTensor(r: WireReader, t?: TensorProto): TensorProto {
  t ??= {
    dims: NONE,
    dataType: 0,
    segment: false,
    floatData: NONE,
    int32Data: NONE,
    int64Data: NONE,
    name: "",
    rawData: NO_BYTES,
    externalData: NONE,
    dataLocation: 0,
    doubleData: NONE,
    uint64Data: NONE,
    offset: r.buf.byteOffset + r.pos,
  };
  const tensor = t;
  each(r, (n, w) => {
    switch (n) {
      case 1:
        return r.repeated(w, VARINT, int64, own(tensor, "dims"));
      case 4:
        return r.repeated(w, I32, float, own(tensor, "floatData"));
      case 5:
        return r.repeated(w, VARINT, int32, own(tensor, "int32Data"));
      case 7:
        return r.repeated(w, VARINT, int64, own(tensor, "int64Data"));
      case 10:
        return r.repeated(w, I64, double, own(tensor, "doubleData"));
      case 11:
        return r.repeated(w, VARINT, uint64, own(tensor, "uint64Data"));
    }
    if (w === VARINT && n === 2) tensor.dataType = r.int32();
    else if (w === VARINT && n === 14) tensor.dataLocation = r.int32();
    else if (w === LEN && n === 3) {
      r.skip(w);
      tensor.segment = true;
    } else if (w === LEN && n === 8) tensor.name = r.string();
    else if (w === LEN && n === 9) tensor.rawData = r.bytes();
    else if (w === LEN && n === 13) own(tensor, "externalData").push(entry(r.message()));
    else return false;
  });
  return t;
}

function readDimension(r: WireReader): DimensionProto {
  const d: DimensionProto = {};
  each(r, (n, w) => {
    // A oneof: the last value read wins.
    if (n === 1 && w === VARINT) {
      d.dimValue = r.int64();
      delete d.dimParam;
    } else if (n === 2 && w === LEN) {
      d.dimParam = r.string();
      delete d.dimValue;
    } else return false;
  });
  return d;
}

function readTensorType(r: WireReader, into?: TensorTypeProto): TensorTypeProto {
  const tt: TensorTypeProto = into ?? { elemType: 0 };
  each(r, (n, w) => {
    if (n === 1 && w === VARINT) tt.elemType = r.int32();
    else if (n === 2 && w === LEN) {
      const shape = tt.shape ??= { dim: [] };
      const s = r.message();
      each(s, (dn, dw) => {
        if (dn !== 1 || dw !== LEN) return false;
        shape.dim.push(readDimension(s.message()));
      });
    } else return false;
  });
  return tt;
}

function readValueInfo(r: WireReader): ValueInfoProto {
  const v: ValueInfoProto = { name: "" };
  each(r, (n, w) => {
    if (w !== LEN) return false;
    if (n === 1) v.name = r.string();
    else if (n === 2) {
      // TypeProto: only its tensor_type case is read.
      const type = v.type ??= {};
      const s = r.message();
      each(s, (tn, tw) => {
        if (tn !== 1 || tw !== LEN) return false;
        type.tensorType = readTensorType(s.message(), type.tensorType);
      });
    } else return false;
  });
  return v;
}

function readAttribute(r: WireReader): AttributeProto {
  const a: AttributeProto = {
    name: "",
    refAttrName: "",
    type: 0,
    f: 0,
    i: 0n,
    s: NO_BYTES,
    floats: NONE,
    ints: NONE,
    strings: NONE,
    tensors: NONE,
    graphs: NONE,
  };
  each(r, (n, w) => {
    if (n === 7) return r.repeated(w, I32, float, own(a, "floats"));
    if (n === 8) return r.repeated(w, VARINT, int64, own(a, "ints"));
    if (w === I32 && n === 2) a.f = r.float();
    else if (w === VARINT && n === 3) a.i = r.int64();
    else if (w === VARINT && n === 20) a.type = r.int32();
    else if (w !== LEN) return false;
    else if (n === 1) a.name = r.string();
    else if (n === 21) a.refAttrName = r.string();
    else if (n === 4) a.s = r.bytes();
    else if (n === 5) a.t = readTensor(r.message(), a.t);
    else if (n === 6) a.g = readGraph(r.message(), a.g);
    else if (n === 9) own(a, "strings").push(r.bytes());
    else if (n === 10) own(a, "tensors").push(readTensor(r.message()));
    else if (n === 11) own(a, "graphs").push(readGraph(r.message()));
    else return false;
  });
  return a;
}

function readNode(r: WireReader): NodeProto {
  const node: NodeProto = {
    input: [],
    output: [],
    name: "",
    opType: "",
    domain: "",
    attribute: [],
  };
  each(r, (n, w) => {
    if (w !== LEN) return false;
    if (n === 1) node.input.push(r.string());
    else if (n === 2) node.output.push(r.string());
    else if (n === 3) node.name = r.string();
    else if (n === 4) node.opType = r.string();
    else if (n === 7) node.domain = r.string();
    else if (n === 5) node.attribute.push(readAttribute(r.message()));
    else return false;
  });
  return node;
}

/** Reads a GraphProto (merging into `g` when the field repeats). */
export function readGraph(r: WireReader, g?: GraphProto): GraphProto {
  g ??= {
    node: [],
    name: "",
    initializer: [],
    sparseInitializers: 0,
    input: [],
    output: [],
    valueInfo: [],
  };
  const graph = g;
  each(r, (n, w) => {
    if (w !== LEN) return false;
    if (n === 1) graph.node.push(readNode(r.message()));
    else if (n === 2) graph.name = r.string();
    else if (n === 5) graph.initializer.push(readTensor(r.message()));
    else if (n === 15) {
      r.skip(w);
      graph.sparseInitializers++;
    } else if (n === 11) graph.input.push(readValueInfo(r.message()));
    else if (n === 12) graph.output.push(readValueInfo(r.message()));
    else if (n === 13) graph.valueInfo.push(readValueInfo(r.message()));
    else return false;
  });
  return g;
}

/** Decodes a ModelProto; throws an `Error` describing the first malformed byte. */
export function readModel(bytes: Uint8Array): ModelProto {
  const r = new WireReader(bytes);
  const m: ModelProto = { opsetImport: [], producerName: "" };
  each(r, (n, w) => {
    if (w !== LEN) return false;
    if (n === 2) m.producerName = r.string();
    else if (n === 7) m.graph = readGraph(r.message(), m.graph);
    else if (n === 8) {
      const o: OperatorSetIdProto = { domain: "", version: 0n };
      const s = r.message();
      each(s, (on, ow) => {
        if (on === 1 && ow === LEN) o.domain = s.string();
        else if (on === 2 && ow === VARINT) o.version = s.int64();
        else return false;
      });
      m.opsetImport.push(o);
    } else return false;
  });
  return m;
}
