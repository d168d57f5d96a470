/**
 * Binary arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Pow, Mod, PRelu and the
 * variadic Max, Min, Sum, Mean. Float32 runs the `f32_v<op>_x8` kernels over the 2-D blocks
 * of a broadcast plan (same shape, scalar, row and channel broadcasts never materialise the
 * smaller operand); int32 / int64 (shape arithmetic) run on the host.
 *
 * @module
 */
import { DTypeError, InvalidArgumentError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { bytesPerElement, type DType, sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { hasInput, intAttr, nodeLabel, shapeError } from "./_node_params.ts";
import {
  broadcastShapes,
  broadcastsTo,
  type Element,
  forEachBlock,
  mapBroadcast,
  planBroadcast,
} from "./broadcast.ts";
import type { ArenaTensor, InputInfo, Op, OpContext, OutputInfo } from "./op.ts";
import { runUnaryF32 } from "./unary.ts";
import type { KernelCall } from "../threads/kernel_call.ts";
import {
  itemsFor,
  noScratch,
  runQueued,
  splitRange,
  STREAMED_ELEMENT_FLOPS,
  threadsFor,
} from "../threads/split.ts";

/** Signature of every `f32_v<op>_x8` binary kernel (and the `_x16` comparisons). */
export type BinaryKernel = (
  rows: number,
  n: number,
  a: number,
  lda: number,
  sa: number,
  b: number,
  ldb: number,
  sb: number,
  y: number,
) => void;

/**
 * y = kernel(a, b) with numpy broadcasting: walks the 2-D blocks of the broadcast plan, one
 * kernel call per block. `outBytes` is the output element size (1 for comparisons). Large
 * outputs are cut into items (whole blocks, rows, or column ranges of a one-row block) that
 * the pool's threads claim.
 */
export function runBinaryKernel(
  kr: Kernels,
  kernel: string,
  a: ArenaTensor,
  b: ArenaTensor,
  y: ArenaTensor,
  outBytes = 4,
): void {
  const plan = planBroadcast(y.dims, [a.dims, b.dims]);
  const [lda, ldb] = plan.ld;
  const [sa, sb] = plan.inner;
  /** The kernel's arguments for `rows` x `n` elements from element offsets ea, eb, ey. */
  const args = (rows: number, n: number, ea: number, eb: number, ey: number) =>
    [
      rows,
      n,
      a.offset + 4 * ea,
      lda,
      sa,
      b.offset + 4 * eb,
      ldb,
      sb,
      y.offset + outBytes * ey,
    ] as const;
  const work = sizeOf(y.dims) * STREAMED_ELEMENT_FLOPS;
  const threads = threadsFor(kr, work);
  if (threads === 1) {
    const fn = (kr.fn as unknown as Record<string, BinaryKernel>)[kernel];
    forEachBlock(plan, ([ea, eb], ey) => fn(...args(plan.rows, plan.n, ea, eb, ey)));
    return;
  }
  const items = itemsFor(threads, work);
  const calls: KernelCall[] = [];
  const call = (rows: number, n: number, ea: number, eb: number, ey: number) =>
    calls.push({ fn: kernel, args: [...args(rows, n, ea, eb, ey)] });
  const blocks = sizeOf(plan.outer);
  forEachBlock(plan, ([ea, eb], ey) => {
    if (blocks >= items) call(plan.rows, plan.n, ea, eb, ey);
    else if (plan.rows > 1) {
      // Rows in ranges (a kernel call writes whole rows of y, one after the other).
      for (const [r, rows] of splitRange(plan.rows, 1, Math.ceil(items / blocks))) {
        call(rows, plan.n, ea + r * lda, eb + r * ldb, ey + r * plan.n);
      }
    } else {
      for (const [j, n] of splitRange(plan.n, 16, Math.ceil(items / blocks))) {
        call(1, n, ea + j * sa, eb + j * sb, ey + j);
      }
    }
  });
  // Consecutive calls grouped into about `items` items.
  runQueued(
    kr,
    splitRange(calls.length, 1, items).map(([i, len]) => calls.slice(i, i + len)),
    noScratch(threads),
  );
}

/** Copies a tensor's bytes (variadic ops with one input). */
function copyTensor(kr: Kernels, x: ArenaTensor, y: ArenaTensor, bytes: number): void {
  if (x.offset === y.offset || bytes === 0) return;
  const u8 = new Uint8Array(kr.arena.memory.buffer);
  u8.copyWithin(y.offset, x.offset, x.offset + bytes);
}

type IntFn = (a: number, b: number) => number;
type BigFn = (a: bigint, b: bigint) => bigint;

interface BinarySpec {
  type: string;
  /** Kernel token (`f32_v<token>_x8`). */
  token: string;
  variadic?: boolean;
  int?: IntFn;
  bigint?: BigFn;
}

function divisor(node: Node, b: number | bigint): void {
  if (b === 0 || b === 0n) {
    throw new InvalidArgumentError(`${nodeLabel(node)}: integer division by zero`);
  }
}

// Python-style modulo (sign of the divisor), ONNX Mod with fmod = 0.
const modInt = (a: number, b: number) => {
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
};
const modBig = (a: bigint, b: bigint) => {
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
};

const wrap64 = (x: bigint) => BigInt.asIntN(64, x);

const SPECS: BinarySpec[] = [
  { type: "Add", token: "add", int: (a, b) => (a + b) | 0, bigint: (a, b) => wrap64(a + b) },
  { type: "Sub", token: "sub", int: (a, b) => (a - b) | 0, bigint: (a, b) => wrap64(a - b) },
  { type: "Mul", token: "mul", int: Math.imul, bigint: (a, b) => wrap64(a * b) },
  { type: "Div", token: "div", int: (a, b) => (a / b) | 0, bigint: (a, b) => a / b },
  {
    type: "Max",
    token: "max",
    variadic: true,
    int: Math.max,
    bigint: (a, b) => (a > b ? a : b),
  },
  {
    type: "Min",
    token: "min",
    variadic: true,
    int: Math.min,
    bigint: (a, b) => (a < b ? a : b),
  },
  {
    type: "Sum",
    token: "add",
    variadic: true,
    int: (a, b) => (a + b) | 0,
    bigint: (a, b) => wrap64(a + b),
  },
  { type: "Mean", token: "add", variadic: true },
  { type: "Pow", token: "pow" },
  { type: "Mod", token: "fmod" },
  { type: "PRelu", token: "prelu" },
];

function typeError(node: Node, what: string, got: DType, allowed: string): DTypeError {
  return new DTypeError(`${nodeLabel(node)}: input "${what}" is "${got}", expected ${allowed}`);
}

function present(node: Node, inputs: (InputInfo | undefined)[]): InputInfo[] {
  const out: InputInfo[] = [];
  inputs.forEach((x, i) => {
    if (!hasInput(node, i) || !x) throw shapeError(node, `input ${i} is required`);
    out.push(x);
  });
  if (out.length === 0) throw shapeError(node, "needs at least one input");
  return out;
}

function inferBinary(spec: BinarySpec, node: Node, inputs: (InputInfo | undefined)[]) {
  const xs = present(node, inputs);
  if (!spec.variadic && xs.length !== 2) {
    throw shapeError(node, `needs 2 inputs, got ${xs.length}`);
  }
  const t = xs[0].type;
  const intOk = spec.int !== undefined || (spec.type === "Mod");
  if (t !== "float32" && !((t === "int32" || t === "int64") && intOk)) {
    throw typeError(node, "A", t, intOk ? '"float32", "int32" or "int64"' : '"float32"');
  }
  xs.forEach((x, i) => {
    // Pow's exponent may be of another numeric type (opset 12+).
    if (spec.type === "Pow" && i === 1) {
      if (!["float32", "int32", "int64"].includes(x.type)) {
        throw typeError(node, "Y", x.type, '"float32", "int32" or "int64"');
      }
      return;
    }
    if (x.type !== t) {
      throw new DTypeError(
        `${nodeLabel(node)}: input ${i} is "${x.type}" but input 0 is "${t}"`,
      );
    }
  });
  if (spec.type === "Mod" && t === "float32" && intAttr(node, "fmod", 0) !== 1) {
    throw new DTypeError(`${nodeLabel(node)}: float Mod needs fmod = 1 (ONNX), got fmod = 0`);
  }
  if (spec.type === "PRelu") {
    if (!broadcastsTo(xs[1].dims, xs[0].dims)) {
      throw shapeError(
        node,
        `slope [${xs[1].dims.join(", ")}] does not broadcast to X [${xs[0].dims.join(", ")}]`,
      );
    }
    return [{ type: t, dims: [...xs[0].dims] }];
  }
  const what = nodeLabel(node);
  return [{ type: t, dims: broadcastShapes(xs.map((x) => x.dims), what) }];
}

/** Pow with a constant scalar exponent that has a cheaper exact form. */
interface PowState {
  exponent?: number;
}

function constantScalar(info: InputInfo | undefined): number | undefined {
  const v = info?.value;
  if (!v || v.data.length === 0) return undefined;
  const first = Number(v.data[0]);
  for (let i = 1; i < v.data.length; i++) if (Number(v.data[i]) !== first) return undefined;
  return first;
}

/** A float32 copy of an integer tensor in fresh arena memory (Pow's exponent). */
function floatCopy(kr: Kernels, t: ArenaTensor): ArenaTensor {
  const n = sizeOf(t.dims);
  const offset = kr.arena.alloc(4 * n, "Pow exponent as float32");
  const buf = kr.arena.memory.buffer;
  const src = t.type === "int64"
    ? Array.from(new BigInt64Array(buf, t.offset, n), Number)
    : new Int32Array(buf, t.offset, n);
  new Float32Array(buf, offset, n).set(src);
  return { type: "float32", dims: t.dims, offset };
}

function runPow(
  kr: Kernels,
  a: ArenaTensor,
  b: ArenaTensor,
  y: ArenaTensor,
  state: PowState,
): void {
  const sameShape = sizeOf(a.dims) === sizeOf(y.dims);
  switch (sameShape ? state.exponent : undefined) {
    case 1:
      return copyTensor(kr, a, y, 4 * sizeOf(y.dims));
    case 2:
      return runBinaryKernel(kr, "f32_vmul_x8", a, a, y);
    case 0.5:
      return runUnaryF32(kr, "f32_vsqrt_x8", a, y);
    case -1:
      return runUnaryF32(kr, "f32_vreciprocal_x8", a, y);
  }
  if (b.type === "float32") return runBinaryKernel(kr, "f32_vpow_x8", a, b, y);
  const bf = floatCopy(kr, b);
  try {
    runBinaryKernel(kr, "f32_vpow_x8", a, bf, y);
  } finally {
    kr.arena.free(bf.offset);
  }
}

function hostFn(spec: BinarySpec, node: Node, type: DType): (v: Element[]) => Element {
  const fmod = intAttr(node, "fmod", 0) === 1;
  if (type === "int64") {
    const f: BigFn = spec.type === "Mod" ? (fmod ? (a, b) => a % b : modBig) : spec.bigint!;
    const checkZero = spec.type === "Div" || spec.type === "Mod";
    return (v) => {
      if (checkZero) divisor(node, v[1]);
      return f(v[0] as bigint, v[1] as bigint);
    };
  }
  const f: IntFn = spec.type === "Mod" ? (fmod ? (a, b) => a % b : modInt) : spec.int!;
  const checkZero = spec.type === "Div" || spec.type === "Mod";
  return (v) => {
    if (checkZero) divisor(node, v[1]);
    return f(v[0] as number, v[1] as number) | 0;
  };
}

function runF32(
  ctx: OpContext,
  spec: BinarySpec,
  xs: ArenaTensor[],
  y: ArenaTensor,
  state: PowState,
): void {
  const kr = ctx.kernels;
  const n = sizeOf(y.dims);
  if (n === 0) return;
  if (spec.type === "Pow") return runPow(kr, xs[0], xs[1], y, state);
  const kernel = `f32_v${spec.token}_x8`;
  if (xs.length === 1) copyTensor(kr, xs[0], y, 4 * n);
  else {
    runBinaryKernel(kr, kernel, xs[0], xs[1], y);
    for (let k = 2; k < xs.length; k++) runBinaryKernel(kr, kernel, y, xs[k], y);
  }
  if (spec.type === "Mean" && xs.length > 1) {
    const s = kr.arena.alloc(4, "Mean scale");
    try {
      kr.arena.f32(s, 1)[0] = 1 / xs.length;
      runBinaryKernel(kr, "f32_vmul_x8", y, { type: "float32", dims: [], offset: s }, y);
    } finally {
      kr.arena.free(s);
    }
  }
}

function binaryOp(spec: BinarySpec): Op<PowState> {
  return {
    type: spec.type,
    check(node) {
      if (spec.type === "Mod" && ![0, 1].includes(intAttr(node, "fmod", 0))) {
        return [`fmod ${node.attributes.fmod} is not 0 or 1`];
      }
      return [];
    },
    inferShapes: (node, inputs): OutputInfo[] => inferBinary(spec, node, inputs),
    prepare(_ctx, _node, inputs): PowState {
      return spec.type === "Pow" ? { exponent: constantScalar(inputs[1]) } : {};
    },
    run(ctx, node, inputs, outputs, state) {
      const xs = inputs as ArenaTensor[];
      const y = outputs[0];
      if (y.type === "float32") return runF32(ctx, spec, xs, y, state ?? {});
      if (sizeOf(y.dims) === 0) return;
      const f = hostFn(spec, node, y.type);
      if (xs.length === 1) {
        return copyTensor(ctx.kernels, xs[0], y, sizeOf(y.dims) * bytesPerElement(y.type));
      }
      mapBroadcast(ctx.kernels, xs.slice(0, 2), y, f);
      for (let k = 2; k < xs.length; k++) mapBroadcast(ctx.kernels, [y, xs[k]], y, f);
    },
  };
}

/** The binary arithmetic ops. */
export const ops: Op[] = SPECS.map((s) => binaryOp(s) as Op);
