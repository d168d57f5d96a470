/**
 * Builds small ONNX models in tests (and benches) from plain objects, with the same generated
 * protobuf types the decoder uses. Typical use: a one-node model to compare an op against
 * onnxruntime.
 */
import { create, toBinary } from "npm:@bufbuild/protobuf@2.17.0";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type TensorProto,
  TensorProto_DataType as DT,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "../engine/formats/onnx/gen/onnx_pb.ts";
import type { DType } from "../engine/tensor.ts";
import { Tensor } from "../engine/tensor.ts";

const CODES: Record<DType, DT> = {
  float32: DT.FLOAT,
  float16: DT.FLOAT16,
  int64: DT.INT64,
  int32: DT.INT32,
  int8: DT.INT8,
  uint8: DT.UINT8,
  bool: DT.BOOL,
};

/** An attribute value in a built node: numbers are INT when integral unless `floats` says. */
export type BuildAttribute =
  | number
  | string
  | number[]
  | string[]
  | Tensor
  | { float: number }
  | { floats: number[] }
  | { graph: BuildGraph };

/** A node of a built graph. */
export interface BuildNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, BuildAttribute>;
}

/** A graph input or output: name, element type, dims (strings are symbolic). */
export interface BuildValue {
  name: string;
  type?: DType;
  dims?: (number | string)[];
}

/** A graph to build. */
export interface BuildGraph {
  name?: string;
  nodes: BuildNode[];
  inputs: BuildValue[];
  outputs: BuildValue[];
  initializers?: Record<string, Tensor>;
}

/** A host tensor as a TensorProto with raw little-endian data. */
export function tensorProto(name: string, t: Tensor): TensorProto {
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return create(TensorProtoSchema, {
    name,
    dims: t.dims.map(BigInt),
    dataType: CODES[t.type],
    rawData: raw,
  });
}

function valueInfo(v: BuildValue): ValueInfoProto {
  const tensorType = create(TypeProto_TensorSchema, {
    elemType: CODES[v.type ?? "float32"],
    shape: v.dims === undefined ? undefined : create(TensorShapeProtoSchema, {
      dim: v.dims.map((d) =>
        create(TensorShapeProto_DimensionSchema, {
          value: typeof d === "number"
            ? { case: "dimValue", value: BigInt(d) }
            : { case: "dimParam", value: d },
        })
      ),
    }),
  });
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: create(TypeProtoSchema, { value: { case: "tensorType", value: tensorType } }),
  });
}

function attribute(name: string, v: BuildAttribute): AttributeProto {
  const enc = new TextEncoder();
  const a = create(AttributeProtoSchema, { name });
  if (typeof v === "number") {
    if (Number.isInteger(v)) Object.assign(a, { type: AT.INT, i: BigInt(v) });
    else Object.assign(a, { type: AT.FLOAT, f: v });
  } else if (typeof v === "string") Object.assign(a, { type: AT.STRING, s: enc.encode(v) });
  else if (v instanceof Tensor) Object.assign(a, { type: AT.TENSOR, t: tensorProto(name, v) });
  else if (Array.isArray(v)) {
    if (v.length && typeof v[0] === "string") {
      Object.assign(a, { type: AT.STRINGS, strings: (v as string[]).map((s) => enc.encode(s)) });
    } else Object.assign(a, { type: AT.INTS, ints: (v as number[]).map(BigInt) });
  } else if ("float" in v) Object.assign(a, { type: AT.FLOAT, f: v.float });
  else if ("floats" in v) Object.assign(a, { type: AT.FLOATS, floats: v.floats });
  else Object.assign(a, { type: AT.GRAPH, g: graphProto(v.graph) });
  return a;
}

function graphProto(g: BuildGraph) {
  return create(GraphProtoSchema, {
    name: g.name ?? "graph",
    node: g.nodes.map((n, i) =>
      create(NodeProtoSchema, {
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? "",
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })
    ),
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
    initializer: Object.entries(g.initializers ?? {}).map(([k, t]) => tensorProto(k, t)),
  });
}

/** Encodes a model (default opset 17). */
export function buildModel(g: BuildGraph, opset = 17): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      producerName: "quartet-tests",
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opset) })],
      graph: graphProto(g),
    }),
  );
}

/** A one-node model whose inputs are all graph inputs (float32 unless typed). */
export function oneNodeModel(
  op: string,
  inputs: BuildValue[],
  outputs: BuildValue[],
  attributes: Record<string, BuildAttribute> = {},
  options: { opset?: number; initializers?: Record<string, Tensor> } = {},
): Uint8Array {
  const init = options.initializers ?? {};
  return buildModel({
    nodes: [{
      op,
      inputs: inputs.map((i) => i.name),
      outputs: outputs.map((o) => o.name),
      attributes,
    }],
    inputs: inputs.filter((i) => !(i.name in init)),
    outputs,
    initializers: init,
  }, options.opset);
}
