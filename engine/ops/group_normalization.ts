/**
 * InstanceNormalization and GroupNormalization on [N, C, ...]: statistics over each group of
 * C / G channels and all spatial positions (one channel per group for instance norm), then a
 * per-channel scale and bias, in one `f32_groupnorm_x8` pass per group. GroupNormalization's
 * scale and bias are per channel (C values, opset 21) or per group (G values, opset 18); the
 * sizes tell which, and per-group values are expanded to channels.
 *
 * @module
 */
import { DTypeError } from "../errors.ts";
import type { Node } from "../ir/graph.ts";
import { sizeOf } from "../tensor.ts";
import {
  arenaFloats,
  floatAttr,
  hasInput,
  intAttr,
  nodeLabel,
  shapeError,
} from "./_node_params.ts";
import type { InputInfo, Op, OutputInfo } from "./op.ts";

const NAMES: Record<string, string[]> = {
  InstanceNormalization: ["input", "scale", "B"],
  GroupNormalization: ["X", "scale", "bias"],
};

function groupsOf(node: Node, channels: number): number {
  return node.op === "InstanceNormalization" ? channels : intAttr(node, "num_groups", 0);
}

function normOp(type: "InstanceNormalization" | "GroupNormalization"): Op {
  return {
    type,
    check(node) {
      if (type === "GroupNormalization" && !(intAttr(node, "num_groups", 0) > 0)) {
        return ["num_groups must be a positive integer"];
      }
      return [];
    },
    inferShapes(node, inputs): OutputInfo[] {
      const infos = NAMES[type].map((name, i): InputInfo => {
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
        throw shapeError(node, `input must be [N, C, ...], got dims [${x.dims.join(", ")}]`);
      }
      const c = x.dims[1];
      const g = groupsOf(node, c);
      if (!(g > 0) || c % g !== 0) {
        throw shapeError(node, `num_groups ${g} does not divide the ${c} channels`);
      }
      for (const i of [1, 2]) {
        const size = sizeOf(infos[i].dims);
        if (size !== c && size !== g) {
          throw shapeError(
            node,
            `input "${NAMES[type][i]}" has ${size} values, expected ${c} (channels)` +
              (g !== c ? ` or ${g} (groups)` : ""),
          );
        }
      }
      return [{ type: "float32", dims: [...x.dims] }];
    },
    run(ctx, node, inputs, outputs) {
      const kr = ctx.kernels;
      const x = inputs[0]!;
      const [batch, channels] = x.dims;
      const hw = sizeOf(x.dims.slice(2));
      if (batch * channels === 0) return;
      const groups = groupsOf(node, channels);
      const cpg = channels / groups;
      const scratch: number[] = [];
      // Per-group parameters (opset 18) become per-channel ones.
      const perChannel = (i: number): number => {
        const t = inputs[i]!;
        if (sizeOf(t.dims) === channels) return t.offset;
        const v = arenaFloats(kr, t);
        const off = kr.arena.alloc(4 * channels, "group norm parameters");
        scratch.push(off);
        kr.arena.f32(off, channels).set(
          Float32Array.from({ length: channels }, (_, c) => v[Math.floor(c / cpg)]),
        );
        return off;
      };
      try {
        const scale = perChannel(1);
        const bias = perChannel(2);
        kr.fn.f32_groupnorm_x8(
          batch,
          groups,
          cpg,
          hw,
          x.offset,
          outputs[0].offset,
          scale,
          bias,
          floatAttr(node, "epsilon", 1e-5),
        );
      } finally {
        for (const p of scratch) kr.arena.free(p);
      }
    },
  };
}

/** InstanceNormalization and GroupNormalization. */
export const ops: Op[] = [normOp("InstanceNormalization"), normOp("GroupNormalization")];
