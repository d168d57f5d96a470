/**
 * BatchNormalization in inference mode: y = (x - mean) / sqrt(var + eps) * scale + B per
 * channel of [N, C, ...], folded into one per-channel affine y = x a[c] + b[c] that the
 * `f32_batchnorm_x8` kernel applies. With constant statistics (the usual case) a and b are
 * computed once in `prepare`. The fusion pass folds most BNs into the preceding conv; this
 * op runs the rest.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";
import {
  arenaFloats,
  floatAttr,
  hasInput,
  intAttr,
  nodeLabel,
  shapeError,
} from "./_node_params.ts";
import type { ArenaTensor, InputInfo, Op, OutputInfo } from "./op.ts";

const NAMES = ["X", "scale", "B", "input_mean", "input_var"];

/** The folded per-channel affine: byte offsets of C floats each. */
interface BatchNormState {
  a?: number;
  b?: number;
}

/** a[c] = scale / sqrt(var + eps), b[c] = B - mean a[c], in float64 before rounding. */
export function foldBatchNorm(
  scale: ArrayLike<number>,
  bias: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): [Float32Array, Float32Array] {
  const c = scale.length;
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    const s = scale[i] / Math.sqrt(variance[i] + eps);
    a[i] = s;
    b[i] = bias[i] - mean[i] * s;
  }
  return [a, b];
}

function upload(kr: Kernels, data: Float32Array, what: string): number {
  const off = kr.arena.alloc(data.byteLength, what);
  kr.arena.f32(off, data.length).set(data);
  return off;
}

const batchNorm: Op<BatchNormState> = {
  type: "BatchNormalization",
  check(node: Node) {
    const reasons: string[] = [];
    if (intAttr(node, "training_mode", 0) !== 0) {
      reasons.push("training_mode 1 is not supported (inference only)");
    }
    if (intAttr(node, "spatial", 1) !== 1) reasons.push("spatial 0 is not supported");
    if (node.outputs.slice(1).some((o) => o !== "")) {
      reasons.push("the running statistics outputs (training mode) are not supported");
    }
    return reasons;
  },
  inferShapes(node, inputs): OutputInfo[] {
    const infos = NAMES.map((name, i) => {
      const info = inputs[i];
      if (!hasInput(node, i) || !info) throw shapeError(node, `input "${name}" is required`);
      if (info.type !== "float32") {
        throw new DTypeError(
          `${nodeLabel(node)}: input "${name}" is "${info.type}", expected "float32"`,
        );
      }
      return info;
    });
    const x = infos[0];
    if (x.dims.length < 2) {
      throw shapeError(node, `X must be [N, C, ...], got dims [${x.dims.join(", ")}]`);
    }
    const c = x.dims[1];
    infos.slice(1).forEach((p: InputInfo, i) => {
      if (sizeOf(p.dims) !== c) {
        throw shapeError(
          node,
          `input "${NAMES[i + 1]}" has dims [${p.dims.join(", ")}], expected ${c} values (C)`,
        );
      }
    });
    return [{ type: "float32", dims: [...x.dims] }];
  },
  prepare(ctx, node, inputs): BatchNormState {
    const values = inputs.slice(1, 5).map((i) => i?.value?.data as Float32Array | undefined);
    if (values.some((v) => !v)) return {};
    const [a, b] = foldBatchNorm(
      values[0]!,
      values[1]!,
      values[2]!,
      values[3]!,
      floatAttr(node, "epsilon", 1e-5),
    );
    const kr = ctx.kernels;
    return {
      a: upload(kr, a, `the scale of node "${node.name}" (${node.op})`),
      b: upload(kr, b, `the shift of node "${node.name}" (${node.op})`),
    };
  },
  run(ctx, node, inputs, outputs, state) {
    const kr = ctx.kernels;
    const x = inputs[0]!;
    const [batch, channels] = x.dims;
    const hw = sizeOf(x.dims.slice(2));
    if (batch * channels * hw === 0) return;
    let { a, b } = state ?? {};
    const scratch: number[] = [];
    if (a === undefined || b === undefined) {
      const [s, bias, mean, variance] = inputs.slice(1, 5).map((t) =>
        arenaFloats(kr, t as ArenaTensor)
      );
      const [fa, fb] = foldBatchNorm(s, bias, mean, variance, floatAttr(node, "epsilon", 1e-5));
      a = upload(kr, fa, "batch norm scale");
      b = upload(kr, fb, "batch norm shift");
      scratch.push(a, b);
    }
    try {
      kr.fn.f32_batchnorm_x8(batch, channels, hw, x.offset, outputs[0].offset, a, b);
    } finally {
      for (const p of scratch) kr.arena.free(p);
    }
  },
  release(ctx, state) {
    if (state?.a !== undefined) ctx.kernels.arena.free(state.a);
    if (state?.b !== undefined) ctx.kernels.arena.free(state.b);
  },
};

/** The BatchNormalization op. */
export const ops: Op[] = [batchNorm as Op];
