import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { ModelFormatError, QuartetError } from "../../../engine/errors.ts";
import { decodeOnnx } from "../../../engine/formats/onnx/mod.ts";
import { packSparseModel } from "../../../engine/formats/sparse_package/pack.ts";
import { packSparseModel as packSparseModelPublic } from "../../../mod.ts";
import { unpackSparsePackage } from "../../../engine/formats/sparse_package/unpack.ts";
import { type Graph, subgraphs } from "../../../engine/ir/graph.ts";
import { loadModel } from "../../../engine/model.ts";
import { isFloat16Origin } from "../../../engine/weights/f16_gemv.ts";
import { Tensor } from "../../../engine/tensor.ts";
import { buildModel } from "../../_onnx_builder.ts";
import { runOrt } from "../../_ort.ts";
import { assertClose } from "../../_assert.ts";
import { Random } from "../../_random.ts";

const rng = new Random(77);

/** Random weights with the `zeros` smallest of every group of 4 (last axis runs) zeroed. */
function pruned(dims: number[], zeros: number): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const w = rng.floats(n, -0.5, 0.5);
  for (let g = 0; g + 4 <= n; g += 4) {
    const order = [0, 1, 2, 3].sort((a, b) => Math.abs(w[g + a]) - Math.abs(w[g + b]));
    for (const j of order.slice(0, zeros)) w[g + j] = 0;
  }
  return new Tensor("float32", w, dims);
}

const W1 = pruned([32, 16, 3, 3], 2);
const W2 = pruned([32, 32, 1, 1], 3);
const WB = pruned([32, 32, 1, 1], 2);
const B1 = new Tensor("float32", rng.floats(32, -0.1, 0.1), [32]);

/**
 * Conv 3x3 (C4,2) → Relu → Conv 1x1 (C4,3) → If(flag): then Conv 1x1 with a Constant-node
 * weight (C4,2), else Relu. `round` applies to the three weights a package stores (float16
 * rounding for the oracle); the 32-value bias stays inline, in float32.
 */
function model(round?: (x: number) => number): Uint8Array {
  const r = (t: Tensor) =>
    round ? new Tensor("float32", (t.data as Float32Array).map(round), t.dims) : t;
  return buildModel({
    nodes: [
      {
        op: "Conv",
        inputs: ["x", "w1", "b1"],
        outputs: ["h1"],
        attributes: { pads: [1, 1, 1, 1] },
      },
      { op: "Relu", inputs: ["h1"], outputs: ["r1"] },
      { op: "Conv", inputs: ["r1", "w2"], outputs: ["h2"] },
      {
        op: "If",
        inputs: ["flag"],
        outputs: ["y"],
        attributes: {
          then_branch: {
            graph: {
              name: "then",
              nodes: [
                { op: "Constant", inputs: [], outputs: ["wb"], attributes: { value: r(WB) } },
                { op: "Conv", inputs: ["h2", "wb"], outputs: ["yt"] },
              ],
              inputs: [],
              outputs: [{ name: "yt", type: "float32" }],
            },
          },
          else_branch: {
            graph: {
              name: "else",
              nodes: [{ op: "Relu", inputs: ["h2"], outputs: ["ye"] }],
              inputs: [],
              outputs: [{ name: "ye", type: "float32" }],
            },
          },
        },
      },
    ],
    inputs: [{ name: "x", dims: [1, 16, 10, 10] }, { name: "flag", type: "bool", dims: [] }],
    outputs: [{ name: "y", type: "float32" }],
    initializers: { w1: r(W1), b1: B1, w2: r(W2) },
  });
}

const X = new Tensor("float32", rng.floats(16 * 100, -1, 1), [1, 16, 10, 10]);
const feeds = (flag: boolean) => ({
  x: X,
  flag: new Tensor("bool", new Uint8Array([flag ? 1 : 0]), []),
});

/** Every float tensor of a graph and its subgraphs (initializers and Constant values). */
function tensorsOf(g: Graph, out = new Map<string, Tensor>()): Map<string, Tensor> {
  for (const [k, t] of g.initializers) out.set(k, t);
  for (const n of g.nodes) {
    if (n.op === "Constant" && n.attributes.value instanceof Tensor) {
      out.set(n.outputs[0], n.attributes.value);
    }
    for (const s of subgraphs(n)) tensorsOf(s, out);
  }
  return out;
}

Deno.test("a sparse package restores every tensor bit for bit and runs like onnxruntime", async () => {
  const onnx = model();
  const copy = onnx.slice();
  const { bytes, tensors } = packSparseModel(onnx);
  deepStrictEqual(onnx, copy, "the input was modified");
  // The public API's packSparseModel loads the packer on first use and packs the same.
  deepStrictEqual((await packSparseModelPublic(onnx)).bytes, bytes);
  deepStrictEqual(tensors.map((t) => [t.name, t.layout, t.dtype]).sort(), [
    ["w1", "mask", "float32"],
    ["w2", "mask", "float32"],
    ["wb", "mask", "float32"],
  ]);
  const want = tensorsOf((await decodeOnnx(onnx)).graph);
  const got = tensorsOf((await unpackSparsePackage(bytes)).graph);
  deepStrictEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, t] of want) {
    deepStrictEqual(got.get(name)!.dims, t.dims, name);
    deepStrictEqual(got.get(name)!.data, t.data, name);
  }
  // Masked C4,2 float32: 1/8 byte of mask + 2 of 4 values per 4 weights = 53 % of the bytes.
  const w1 = tensors.find((t) => t.name === "w1")!;
  deepStrictEqual(w1.bytesAfter, 32 * 144 / 8 + 32 * 144 / 2 * 4);
  ok(bytes.length < 0.62 * onnx.length, `${bytes.length} vs ${onnx.length}`);
  const m = await loadModel(bytes);
  const plain = await loadModel(onnx);
  for (const flag of [true, false]) {
    const ours = await m.run(feeds(flag));
    await plain.run(feeds(flag));
    const oracle = await runOrt(onnx, feeds(flag));
    assertClose(ours.y.data as Float32Array, oracle.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
  }
  // The same kernels are chosen as for the ONNX file (sparse where the cost model says so).
  deepStrictEqual(m.summary().kernelChoices, plain.summary().kernelChoices);
  ok(m.summary().kernelChoices.some((c) => c.format.startsWith("c4n")));
  m.dispose();
  plain.dispose();
});

Deno.test("a float16 package halves the bytes and matches onnxruntime on f16-rounded weights", async () => {
  const onnx = model();
  const f32 = packSparseModel(onnx);
  const f16 = packSparseModel(onnx, { float16: true });
  ok(f16.tensors.every((t) => t.dtype === "float16"));
  const sum = (r: typeof f32) => r.tensors.reduce((s, t) => s + t.bytesAfter, 0);
  // Values halve; the 1-bit-per-weight mask stays.
  ok(sum(f16) < 0.56 * sum(f32), `${sum(f16)} vs ${sum(f32)}`);
  ok(f16.bytes.length < 0.35 * onnx.length, `${f16.bytes.length} vs ${onnx.length}`);
  const f16round = (Math as unknown as { f16round(x: number): number }).f16round;
  const rounded = model(f16round);
  const m = await loadModel(f16.bytes);
  for (const flag of [true, false]) {
    const ours = await m.run(feeds(flag));
    const oracle = await runOrt(rounded, feeds(flag));
    assertClose(ours.y.data as Float32Array, oracle.y.data as Float32Array, {
      rtol: 1e-4,
      atol: 1e-5,
    });
    // And within float16 tolerance of the float32 model.
    const full = await runOrt(onnx, feeds(flag));
    assertClose(ours.y.data as Float32Array, full.y.data as Float32Array, {
      rtol: 2e-2,
      atol: 2e-2,
    });
  }
  m.dispose();
});

Deno.test("float16 package values are marked as halves, float32 ones are not", async () => {
  // w1, w2 (initializers) and wb (a Constant node in the If branch), all stored with a mask.
  const tensors = (g: Graph, out: Tensor[] = []): Tensor[] => {
    for (const name of ["w1", "w2"]) {
      if (g.initializers.has(name)) out.push(g.initializers.get(name)!);
    }
    for (const n of g.nodes) {
      if (n.op === "Constant" && n.attributes.value instanceof Tensor) out.push(n.attributes.value);
      for (const s of subgraphs(n)) tensors(s, out);
    }
    return out;
  };
  for (const float16 of [true, false]) {
    const m = await unpackSparsePackage(packSparseModel(model(), { float16 }).bytes);
    const found = tensors(m.graph);
    deepStrictEqual(found.length, 3);
    ok(found.every((t) => isFloat16Origin(t) === float16), `float16: ${float16}`);
  }
});

// ---- bad input -------------------------------------------------------------------------

/** The package's header and data area, and a function to rebuild it with another header. */
function split(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const jsonBytes = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + jsonBytes)));
  const data = bytes.slice(Math.ceil((16 + jsonBytes) / 8) * 8);
  const rebuild = (h: unknown, d = data) => {
    const json = new TextEncoder().encode(JSON.stringify(h));
    const start = Math.ceil((16 + json.length) / 8) * 8;
    const out = new Uint8Array(start + d.length);
    out.set(bytes.subarray(0, 16));
    new DataView(out.buffer).setUint32(8, json.length, true);
    out.set(json, 16);
    out.set(d, start);
    return out;
  };
  return { header, data, rebuild };
}

Deno.test("a broken package is a ModelFormatError naming what is wrong", async () => {
  const good = packSparseModel(model()).bytes;
  const half = packSparseModel(model(), { float16: true }).bytes;
  const { header, data, rebuild } = split(good);
  const edit = (f: (h: typeof header) => void) => {
    const h = structuredClone(header);
    f(h);
    return rebuild(h);
  };
  const w1 = (h: typeof header) => h.tensors.find((t: { name: string }) => t.name === "w1");
  const w2 = (h: typeof header) => h.tensors.find((t: { name: string }) => t.name === "w2");
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated prefix", good.subarray(0, 10), /not a Quartet sparse package|prefix/],
    ["truncated header", good.subarray(0, 40), /header claims/],
    ["truncated data", good.subarray(0, good.length - 100), /truncated/],
    [
      "newer version",
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setUint32(4, 2, true);
        return b;
      })(),
      /version 2/,
    ],
    ["header not JSON", rebuild("x").map((v, i) => (i === 16 ? 0x7b : v)), /JSON/],
    [
      "values past the end",
      edit((h) => (w1(h).values.offset = data.length)),
      /"w1" values.*past the end/,
    ],
    ["overlapping sections", edit((h) => (w2(h).values.offset = w1(h).values.offset)), /overlaps/],
    ["misaligned section", edit((h) => (w1(h).values.offset += 4)), /multiple of 8/],
    ["mask of the wrong size", edit((h) => (w1(h).mask.bytes -= 8)), /"w1": mask has/],
    ["mask and values disagree", edit((h) => (w1(h).values.bytes -= 8)), /"w1": the mask marks/],
    ["unknown dtype", edit((h) => (w1(h).dtype = "int8")), /"w1": dtype "int8"/],
    ["negative dim", edit((h) => (w1(h).dims[0] = -1)), /"w1": dims/],
    [
      "listed twice",
      edit((h) =>
        h.tensors.push({ ...w1(h), values: { offset: 0, bytes: 0 }, mask: undefined, dims: [0] })
      ),
      /"w1" is listed twice/,
    ],
    ["not in the model", edit((h) => (w1(h).name = "nope")), /"nope" is not in the model|"w1"/],
    ["model tensor still has data", edit((h) => (w1(h).name = "b1")), /"b1" still has data/],
  ];
  // A float16 NaN in the values.
  {
    const s = split(half);
    const t = s.header.tensors.find((x: { name: string }) => x.name === "w2");
    const d = s.data.slice();
    new DataView(d.buffer).setUint16(t.values.offset + 6, 0x7e00, true);
    cases.push(["float16 NaN", s.rebuild(s.header, d), /"w2": float16 value 3 is NaN/]);
  }
  for (const [what, bytes, message] of cases) {
    await rejects(
      loadModel(bytes),
      (e) =>
        e instanceof ModelFormatError && message.test(e.message) || (console.error(what, e), false),
      what,
    );
  }
});

Deno.test("mutated packages load and run or throw typed errors (fuzz, fixed seed)", async () => {
  const good = packSparseModel(model(), { float16: true }).bytes;
  const fuzz = new Random(5);
  for (let i = 0; i < 200; i++) {
    const b = good.slice();
    const kind = i % 3;
    if (kind === 0) {
      for (let k = 0; k < 4; k++) b[fuzz.int(0, b.length - 1)] ^= 1 << fuzz.int(0, 7);
    } else if (kind === 1) b[fuzz.int(16, 400)] = fuzz.int(0, 255);
    const bytes = kind === 2 ? b.subarray(0, fuzz.int(0, b.length - 1)) : b;
    const t0 = performance.now();
    try {
      const m = await loadModel(bytes);
      try {
        await m.run(feeds(true));
      } finally {
        m.dispose();
      }
    } catch (e) {
      ok(e instanceof QuartetError, `case ${i}: ${e}`);
    }
    ok(performance.now() - t0 < 2000, `case ${i} took too long`);
  }
});
