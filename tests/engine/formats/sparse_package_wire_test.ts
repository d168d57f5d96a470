/**
 * packSparseModel edits the ONNX bytes at the wire level (no protobuf runtime): on real models
 * with If subgraphs and Constant nodes, the model it embeds equals what re-encoding the
 * message with the generated protobuf code gives, and every tensor comes back bit for bit.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { fromBinary } from "npm:@bufbuild/protobuf@2.17.0";
import * as pb from "../../../engine/formats/onnx/gen/onnx_pb.ts";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import {
  alignTo,
  type PackageHeader,
  PREFIX_BYTES,
  SECTION_ALIGN,
} from "../../../engine/formats/sparse_package/format.ts";
import { packSparseModel } from "../../../engine/formats/sparse_package/pack.ts";
import { unpackSparsePackage } from "../../../engine/formats/sparse_package/unpack.ts";
import { type Graph, subgraphs } from "../../../engine/ir/graph.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { realModel } from "../../_models.ts";

function tensorsOf(g: Graph, out = new Map<string, Tensor>()): Map<string, Tensor> {
  for (const [k, t] of g.initializers) out.set(`${g.name}/${k}`, t);
  for (const n of g.nodes) {
    if (n.op === "Constant") out.set(`${g.name}/${n.outputs[0]}`, n.attributes.value as Tensor);
    for (const s of subgraphs(n)) tensorsOf(s, out);
  }
  return out;
}

/** The ONNX model inside a package. */
function embeddedModel(bytes: Uint8Array): Uint8Array {
  const jsonBytes = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + jsonBytes)),
  ) as PackageHeader;
  const start = alignTo(PREFIX_BYTES + jsonBytes, SECTION_ALIGN) + header.model.offset;
  return bytes.subarray(start, start + header.model.bytes);
}

Deno.test("packing real models edits only the packed tensors and restores them exactly", async () => {
  for (const file of ["silero_vad_v5.onnx", "silero_vad_legacy.onnx"]) {
    const onnx = await Deno.readFile(await realModel("@ricky0123/vad-web", file));
    const { bytes, tensors } = packSparseModel(onnx, { minElements: 64 });
    ok(tensors.length > 0, file);
    // The same edit through the generated code: packed tensors keep name and type, lose data.
    const packed = new Set(tensors.map((t) => t.name));
    const want = fromBinary(pb.ModelProtoSchema, onnx);
    const edit = (g: pb.GraphProto) => {
      const strip = (t: pb.TensorProto, name: string) => {
        if (!packed.has(name)) return;
        t.dims = [0n];
        delete (t as { rawData?: Uint8Array }).rawData;
        t.floatData = [];
      };
      for (const t of g.initializer) strip(t, t.name);
      for (const n of g.node) {
        for (const a of n.attribute) {
          if (n.opType === "Constant" && a.name === "value" && a.t) strip(a.t, n.output[0]);
          if (a.g) edit(a.g);
          a.graphs.forEach(edit);
        }
      }
    };
    edit(want.graph!);
    deepStrictEqual(fromBinary(pb.ModelProtoSchema, embeddedModel(bytes)), want, file);
    const before = tensorsOf((await decodeOnnx(onnx)).graph);
    const after = tensorsOf((await unpackSparsePackage(bytes)).graph);
    deepStrictEqual([...after.keys()], [...before.keys()], file);
    for (const [k, t] of before) deepStrictEqual(after.get(k)!.data, t.data, `${file}: ${k}`);
  }
});
