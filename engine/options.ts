/**
 * Checks option objects at the public entry points: a misspelt option is an error that names
 * it and lists what is accepted, never silently ignored.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";

/** Throws `InvalidArgumentError` if `options` is not an object or has a key not in `known`. */
export function checkOptions(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`The options of ${where} must be an object`);
  }
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new InvalidArgumentError(
      `Unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} ` +
        `for ${where}: it accepts ${known.map((k) => `"${k}"`).join(", ")}`,
    );
  }
}
