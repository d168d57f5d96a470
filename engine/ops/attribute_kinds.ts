/**
 * What kind of value each ONNX attribute the engine reads must hold, checked once at load
 * before any pass or op reads them: an attribute of the wrong kind (a Gemm `alpha` given as a
 * list of ints, Conv `strides` given as a string, a LeakyRelu `alpha` given as a string) is
 * reported with its node, instead of turning into NaN outputs or silently taking the default.
 *
 * The IR keeps numbers as JavaScript numbers, so INT and FLOAT differ only in that an int must
 * be an integer. Attributes not listed here (the engine's own `fused_*`, attributes of ops it
 * does not read) are not checked.
 *
 * @module
 */
import { isGraph, type Node } from "../ir/graph.ts";
import { Tensor } from "../tensor.ts";

/**
 * The kinds of attribute values ONNX defines (graphs are checked where they are run); messages
 * name them as ONNX does (INT, FLOATS, …).
 */
export type AttributeKind = "int" | "float" | "string" | "ints" | "floats" | "strings" | "tensor";

/** Kinds by attribute name: ONNX uses each of these names with one kind across its ops. */
const BY_NAME: ReadonlyMap<string, AttributeKind> = new Map(
  Object.entries({
    int:
      "allowzero antialias axis batch_dims blocksize ceil_mode count_include_pad detect_negative detect_positive dt_softplus end exclude_outside exclusive fmod group hidden_size input_forget keepdims largest layout linear_before_reset noop_with_empty_axes num_groups num_outputs reverse select_last_index sorted spatial stash_type start storage_order to training_mode transA transB",
    float:
      "alpha beta bias clip cubic_coeff_a epsilon extrapolation_value gamma lambd max min momentum",
    ints:
      "axes dilations ends kernel_shape output_padding output_shape pads perm split starts strides",
    floats: "activation_alpha activation_beta scales",
    string:
      "activation approximate auto_pad coordinate_transformation_mode direction keep_aspect_ratio_policy mode nearest_mode",
    strings: "activations",
  } as Record<AttributeKind, string>).flatMap(([kind, names]) =>
    names.split(" ").map((name) => [name, kind as AttributeKind] as const)
  ),
);

/** Ops whose attributes of these names hold another kind than `BY_NAME` says. */
const BY_OP: Readonly<Record<string, Readonly<Record<string, AttributeKind>>>> = {
  Constant: {
    value: "tensor",
    value_float: "float",
    value_floats: "floats",
    value_int: "int",
    value_ints: "ints",
    value_string: "string",
    value_strings: "strings",
  },
  ConstantOfShape: { value: "tensor" },
  Pad: { value: "float" },
  // TopK before opset 10 takes k as an attribute; Reshape before opset 5 its shape.
  TopK: { k: "int" },
  Reshape: { shape: "ints" },
};

function isInt(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v);
}

function holds(kind: AttributeKind, v: unknown): boolean {
  switch (kind) {
    case "int":
      return isInt(v);
    case "float":
      return typeof v === "number";
    case "string":
      return typeof v === "string";
    // A single value stands for a list of one (importers other than ONNX write them so).
    case "ints":
      return isInt(v) || (Array.isArray(v) && v.every(isInt));
    case "floats":
      return typeof v === "number" || (Array.isArray(v) && v.every((x) => typeof x === "number"));
    case "strings":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
    case "tensor":
      return v instanceof Tensor;
  }
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return "a tensor";
  if (isGraph(v)) return "a graph";
  const text = JSON.stringify(v) ?? typeof v;
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** The kind an attribute of this op and name must hold, or undefined when unchecked. */
export function attributeKind(op: string, name: string): AttributeKind | undefined {
  return BY_OP[op]?.[name] ?? BY_NAME.get(name);
}

/**
 * Every attribute of `node` whose value is not of the kind ONNX defines for it, one reason
 * each.
 *
 * @example
 * ```ts
 * import { attributeProblems } from "./attribute_kinds.ts";
 *
 * const attributes = { alpha: [1, 2] };
 * const node = { name: "g", op: "Gemm", domain: "", inputs: [], outputs: [], attributes };
 * console.log(attributeProblems(node)); // ['attribute "alpha" must be FLOAT, not [1,2]']
 * ```
 */
export function attributeProblems(node: Node): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(node.attributes)) {
    const kind = attributeKind(node.op, name);
    if (kind && !holds(kind, value)) {
      out.push(`attribute "${name}" must be ${kind.toUpperCase()}, not ${describe(value)}`);
    }
  }
  return out;
}
