/**
 * Checks option objects at the public entry points: a misspelt option is an error that names
 * it and lists what is accepted, never silently ignored.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";

/**
 * Throws `InvalidArgumentError` if `options` is not an object, has a key not in `known`, or
 * gives an option of `choices` a value it does not list (a flag as "yes", a mode misspelt).
 */
export function checkOptions(
  options: unknown,
  known: readonly string[],
  where: string,
  choices: Readonly<Record<string, readonly unknown[]>> = {},
): void {
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
  for (const [k, allowed] of Object.entries(choices)) {
    const v = (options as Record<string, unknown>)[k];
    if (v !== undefined && !allowed.includes(v)) {
      throw new InvalidArgumentError(
        `Option "${k}" of ${where} takes ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, ` +
          `not ${JSON.stringify(v)}`,
      );
    }
  }
}
