/**
 * Typed errors. Every error Quartet throws on bad input is one of these, and its message
 * names the node, tensor, file or option at fault.
 *
 * @module
 */

/** Base class of every error Quartet throws on purpose. */
export class QuartetError extends Error {
  /** Creates the error with its message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit an operation (rank, dimension mismatch, negative or huge dims). */
export class ShapeError extends QuartetError {}

/** A tensor of a data type an operation does not accept. */
export class DTypeError extends QuartetError {}

/** A memory request past the configured maximum of the Wasm arena. */
export class OutOfMemoryError extends QuartetError {}

/** An option or argument with a value Quartet does not accept. */
export class InvalidArgumentError extends QuartetError {}

/**
 * The engine's code could not be loaded on this host: the kernel Wasm module, or an operator
 * file of the bundle.
 */
export class KernelLoadError extends QuartetError {}

/** A model file that is malformed, truncated or inconsistent. */
export class ModelFormatError extends QuartetError {}

/** One node the engine cannot run, and why. */
export interface UnsupportedNode {
  /** The node's name (or a generated one when the model has none). */
  node: string;
  /** Its operator type. */
  op: string;
  /** What is missing: the op itself, an attribute value, an input type… */
  reason: string;
}

/**
 * Every unsupported op, attribute or input type of a model, reported at load time all at once.
 */
export class UnsupportedOpError extends QuartetError {
  /** The nodes that cannot run. */
  readonly nodes: readonly UnsupportedNode[];

  /** Creates the error from the list of unsupported nodes. */
  constructor(nodes: readonly UnsupportedNode[], options?: ErrorOptions) {
    const lines = nodes.map((n) => `  - Node "${n.node}" (${n.op}): ${n.reason}`);
    super(
      `The model uses ${nodes.length} unsupported node${nodes.length === 1 ? "" : "s"}:\n` +
        lines.join("\n"),
      options,
    );
    this.nodes = nodes;
  }
}

/** Worker threads that could not start, or a kernel that failed on a worker thread. */
export class ThreadError extends QuartetError {}
