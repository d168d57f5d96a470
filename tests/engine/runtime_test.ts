import { deepStrictEqual, ok, throws } from "node:assert/strict";
import {
  DTypeError,
  init,
  InvalidArgumentError,
  OutOfMemoryError,
  ShapeError,
  Tensor,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { tolerance, VARIANTS } from "../_kernels.ts";
import { Random } from "../_random.ts";
import { activationReference } from "../reference/activations.ts";
import { gemmReference } from "../reference/gemm.ts";

function tensor(rng: Random, dims: number[]): Tensor<"float32"> {
  return new Tensor("float32", rng.floats(dims.reduce((a, b) => a * b, 1)), dims);
}

/** numpy.matmul by definition, float64, with batch broadcasting and 1-D promotion. */
function matmulReference(
  a: Tensor<"float32">,
  b: Tensor<"float32">,
): { dims: number[]; data: Float32Array } {
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : [...a.dims];
  const bd = b.dims.length === 1 ? [b.dims[0], 1] : [...b.dims];
  const [m, k] = ad.slice(-2);
  const n = bd[bd.length - 1];
  const ab = ad.slice(0, -2);
  const bb = bd.slice(0, -2);
  const rank = Math.max(ab.length, bb.length);
  const pa = [...Array(rank - ab.length).fill(1), ...ab];
  const pb = [...Array(rank - bb.length).fill(1), ...bb];
  const batch = pa.map((x, i) => Math.max(x, pb[i]));
  const total = batch.reduce((x, y) => x * y, 1);
  const out = new Float32Array(total * m * n);
  for (let t = 0; t < total; t++) {
    let ia = 0, ib = 0, rest = t, sa = 1, sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rest % batch[d];
      rest = Math.floor(rest / batch[d]);
      if (pa[d] !== 1) ia += c * sa;
      if (pb[d] !== 1) ib += c * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    const am = a.data.subarray(ia * m * k, (ia + 1) * m * k);
    const bm = b.data.subarray(ib * k * n, (ib + 1) * k * n);
    out.set(gemmReference(am, bm, m, k, n), t * m * n);
  }
  const dims = [...batch];
  if (a.dims.length > 1) dims.push(m);
  if (b.dims.length > 1) dims.push(n);
  return { dims, data: out };
}

for (const variant of VARIANTS) {
  Deno.test(`matmul follows numpy semantics (batches, broadcasting, 1-D): ${variant}`, async () => {
    const q = await init({ kernels: variant });
    deepStrictEqual(q.info.variant, variant);
    const rng = new Random(5);
    const cases: [number[], number[]][] = [
      [[1, 1], [1, 1]],
      [[3, 7], [7, 17]],
      [[63, 64], [64, 65]],
      [[1, 257], [257, 9]],
      [[5], [5, 3]],
      [[4, 5], [5]],
      [[7], [7]],
      [[2, 3, 4, 5], [5, 6]],
      [[3, 1, 4, 5], [2, 5, 6]],
      [[4, 5], [3, 5, 2]],
    ];
    for (const [ad, bd] of cases) {
      const a = tensor(rng, ad);
      const b = tensor(rng, bd);
      const want = matmulReference(a, b);
      const got = q.matmul(a, b);
      deepStrictEqual(got.dims, want.dims, `${ad} x ${bd}`);
      assertClose(got.data, want.data, tolerance(ad[ad.length - 1]), `${ad} x ${bd}`);
    }
    q.dispose();
  });

  Deno.test(`matmul fuses bias and activation: ${variant}`, async () => {
    const q = await init({ kernels: variant });
    const rng = new Random(6);
    const a = tensor(rng, [9, 13]);
    const b = tensor(rng, [13, 11]);
    const bias = rng.floats(11);
    const got = q.matmul(a, b, { bias, activation: "gelu_erf" });
    const want = gemmReference(a.data, b.data, 9, 13, 11, bias, activationReference("gelu_erf"));
    assertClose(got.data, want, { rtol: 1e-4, atol: 1e-5 });
    q.dispose();
  });
}

Deno.test("matmul rejects bad input with typed errors naming the shapes", async () => {
  const q = await init();
  const f = (dims: number[]) =>
    new Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  throws(
    () => q.matmul(f([2, 3]), f([4, 5])),
    (e) => e instanceof ShapeError && /\[2, 3\].*\[4, 5\]/.test(e.message),
  );
  throws(() => q.matmul(f([2, 2, 3]), f([3, 3, 4])), ShapeError);
  throws(() => q.matmul(new Tensor("int32", new Int32Array(4), [2, 2]), f([2, 2])), DTypeError);
  throws(() => q.matmul(f([2, 3]), f([3, 2]), { bias: new Float32Array(3) }), InvalidArgumentError);
  throws(
    () => q.matmul(f([2, 3]), f([3, 2]), { activation: "swish" as unknown as "none" }),
    InvalidArgumentError,
  );
  throws(
    () => q.matmul(f([2, 3]), f([3, 2]), { activaton: "relu" } as never),
    (e) => e instanceof InvalidArgumentError && /Unknown option "activaton"/.test(e.message),
  );
  q.dispose();
});

Deno.test("tensors check their dims and data", () => {
  throws(() => new Tensor("float32", new Float32Array(5), [2, 3]), ShapeError);
  throws(() => new Tensor("float32", new Float32Array(0), [-1, 0]), ShapeError);
  throws(() => new Tensor("float32", new Float32Array(0), [NaN]), ShapeError);
  throws(() => new Tensor("float32", new Float32Array(0), [2 ** 40, 0]), ShapeError);
  // deno-lint-ignore no-explicit-any
  throws(() => new Tensor("float32", new Int32Array(6) as any, [2, 3]), DTypeError);
  // deno-lint-ignore no-explicit-any
  throws(() => new Tensor("complex64" as any, new Float32Array(1), [1]), DTypeError);
  const t = new Tensor("int64", new BigInt64Array(6), [1, 2, 3]);
  deepStrictEqual(t.strides, [6, 3, 1]);
  deepStrictEqual(new Tensor("float32", new Float32Array(0), [3, 0]).size, 0);
});

Deno.test("a memory request past the maximum is an OutOfMemoryError naming it", async () => {
  const q = await init({ maxMemoryBytes: 8 * 2 ** 20 });
  const big = new Tensor("float32", new Float32Array(1024 * 1024), [1024, 1024]);
  throws(
    () => q.matmul(big, big),
    (e) => e instanceof OutOfMemoryError && /maximum of 8\.0 MiB/.test(e.message),
  );
  // The arena is still usable after a refused request.
  const small = new Tensor("float32", new Float32Array([1, 2, 3, 4]), [2, 2]);
  deepStrictEqual([...q.matmul(small, small).data], [7, 10, 15, 22]);
  q.dispose();
  throws(() => q.matmul(small, small), /disposed/);
});

Deno.test("init rejects an unknown kernels option and non-module modules", async () => {
  // deno-lint-ignore no-explicit-any
  await (init({ kernels: "avx512" as any })).then(
    () => ok(false),
    (e) => ok(e instanceof InvalidArgumentError),
  );
  // deno-lint-ignore no-explicit-any
  await (init({ module: new Uint8Array(8) as any })).then(
    () => ok(false),
    (e) => ok(/WebAssembly\.Module/.test(e.message)),
  );
});
