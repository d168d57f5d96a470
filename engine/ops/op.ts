/**
 * The contract every operator implements. The executor resolves shapes, plans memory and
 * calls `run` with arena-resident tensors; ops only read and write at those byte offsets.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import type { DType, Tensor } from "../tensor.ts";
import type { Kernels } from "../wasm/kernels.ts";

/** A tensor living in the arena: element type, dims and byte offset (row-major). */
export interface ArenaTensor {
  /** Element type. */
  type: DType;
  /** Dimensions. */
  dims: number[];
  /** Byte offset of the first element. */
  offset: number;
}

/** What is known about an input when shapes are inferred or weights prepared. */
export interface InputInfo {
  /** Element type. */
  type: DType;
  /** Concrete dimensions. */
  dims: number[];
  /** The value, when it is a constant (initializer, folded) or a small shape tensor. */
  value?: Tensor;
}

/** Type and dims of an output. */
export interface OutputInfo {
  /** Element type. */
  type: DType;
  /** Dimensions. */
  dims: number[];
}

/** Everything an op may use while running. */
export interface OpContext {
  /** The kernels and their arena (scratch: `kernels.arena.alloc` / `free` within `run`). */
  kernels: Kernels;
}

/**
 * One operator. Ops with fusable epilogues (Conv, Gemm, MatMul, ConvTranspose) honour the
 * internal attributes `fused_activation` (a name from kernels-as/activations.ts),
 * `fused_p0`, `fused_p1`, which the fusion pass sets.
 */
export interface Op<State = unknown> {
  /** The ONNX operator type, e.g. "Conv". */
  readonly type: string;
  /**
   * Index of the input whose buffer output 0 may share: the op only relabels dims (Reshape,
   * Flatten, Squeeze, Unsqueeze, Identity, Dropout), so the executor can alias the output to
   * that input instead of copying. `run` still copies when given distinct buffers.
   */
  readonly aliasesInput?: number;
  /**
   * Checks attributes and static facts at load; returns why the node cannot run (empty when
   * it can). All reasons of all nodes are reported together.
   */
  check?(node: Node, opset: number): string[];
  /**
   * Output types and dims from the inputs. Throws ShapeError / DTypeError naming the node.
   * Inputs omitted in the model ("") are undefined.
   */
  inferShapes(node: Node, inputs: (InputInfo | undefined)[]): OutputInfo[];
  /** One-time work from constant inputs (e.g. packing weights), at load. */
  prepare?(ctx: OpContext, node: Node, inputs: (InputInfo | undefined)[]): State;
  /** Computes the outputs. */
  run(
    ctx: OpContext,
    node: Node,
    inputs: (ArenaTensor | undefined)[],
    outputs: ArenaTensor[],
    state: State,
  ): void;
  /** Frees what `prepare` allocated. */
  release?(ctx: OpContext, state: State): void;
}
