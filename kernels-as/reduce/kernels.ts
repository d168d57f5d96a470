/**
 * The reduction family's manifest: the fold kinds generated from `f32_reduce.tmpl.ts`.
 * LogSumExp and ArgMax/ArgMin need two passes or indices and are written by hand beside it.
 */
import { type ReduceKind, reduceSource } from "./f32_reduce.tmpl.ts";

const add = (a: string, b: string) => `f32x4.add(${a}, ${b})`;
const max = (a: string, b: string) => `f32x4.max(${a}, ${b})`;
const min = (a: string, b: string) => `f32x4.min(${a}, ${b})`;
const mul = (a: string, b: string) => `f32x4.mul(${a}, ${b})`;
const sadd = (a: string, b: string) => `${a} + ${b}`;

/** Kernels `f32_reduce_<kind>_x16(outer, r, inner, x, y, scale)`. */
export const REDUCE_KINDS: readonly ReduceKind[] = [
  { kind: "sum", doc: "scale * sum", init: "0.0", vec: add, vcomb: add, scalar: sadd, scomb: sadd, scaled: true },
  {
    kind: "sumsq",
    doc: "scale * sum of squares",
    init: "0.0",
    vec: (acc, v) => `madd4(${v}, ${v}, ${acc})`,
    vcomb: add,
    scalar: (acc, v) => `${acc} + ${v} * ${v}`,
    scomb: sadd,
    scaled: true,
  },
  {
    kind: "sumabs",
    doc: "scale * sum of |x|",
    init: "0.0",
    vec: (acc, v) => `f32x4.add(${acc}, f32x4.abs(${v}))`,
    vcomb: add,
    scalar: (acc, v) => `${acc} + Mathf.abs(${v})`,
    scomb: sadd,
    scaled: true,
  },
  {
    kind: "max",
    doc: "max (NaN if any is)",
    init: "-Infinity",
    vec: (acc, v) => `f32x4.pmax(${acc}, ${v})`,
    vcomb: max,
    scalar: (a, b) => `max<f32>(${a}, ${b})`,
    scomb: (a, b) => `max<f32>(${a}, ${b})`,
    scaled: false,
    trackNan: true,
  },
  {
    kind: "min",
    doc: "min (NaN if any is)",
    init: "Infinity",
    vec: (acc, v) => `f32x4.pmin(${acc}, ${v})`,
    vcomb: min,
    scalar: (a, b) => `min<f32>(${a}, ${b})`,
    scomb: (a, b) => `min<f32>(${a}, ${b})`,
    scaled: false,
    trackNan: true,
  },
  {
    kind: "prod",
    doc: "product",
    init: "1.0",
    vec: mul,
    vcomb: mul,
    scalar: (a, b) => `${a} * ${b}`,
    scomb: (a, b) => `${a} * ${b}`,
    scaled: false,
  },
];

/** The generated kernel sources of this family. */
export function generate(): { name: string; source: string }[] {
  return REDUCE_KINDS.map(reduceSource);
}
