/**
 * Text ↔ token ids for language models: a Hugging Face `tokenizer.json` (byte-level BPE as in
 * GPT-NeoX, and the other types it supports) through the official `@huggingface/tokenizers`
 * library, or UTF-8 bytes as tokens when a model ships no tokenizer.
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";

/** Encodes text to token ids and back. */
export interface TextTokenizer {
  /** "tokenizer.json" or "bytes". */
  readonly kind: string;
  /** Token ids of a text. */
  encode(text: string): number[];
  /** Text of token ids. */
  decode(ids: readonly number[]): string;
}

/** Throws unless every id is a non-negative integer (a token id at all). */
export function checkIds(ids: readonly number[]): void {
  if (!Array.isArray(ids)) {
    throw new InvalidArgumentError("A tokenizer decodes an array of token ids");
  }
  const bad = ids.find((i) => !Number.isInteger(i) || i < 0);
  if (bad !== undefined) {
    throw new InvalidArgumentError(`Cannot decode token id ${bad}: ids are integers from 0`);
  }
}

/** Throws unless `text` is a string. */
export function checkText(text: string): string {
  if (typeof text !== "string") throw new InvalidArgumentError("A tokenizer encodes a string");
  return text;
}

/** UTF-8 bytes as tokens (models with a byte vocabulary, and the fallback). */
export const BYTE_TOKENIZER: TextTokenizer = {
  kind: "bytes",
  encode: (text) => [...new TextEncoder().encode(checkText(text))],
  decode: (ids) => {
    checkIds(ids);
    return new TextDecoder().decode(Uint8Array.from(ids.filter((i) => i < 256)));
  },
};

/**
 * A tokenizer from the contents of tokenizer.json (and tokenizer_config.json, if any). Its code
 * and the library are imported on first use, so pages without a tokenizer do not download them.
 *
 * @example
 * ```ts ignore
 * const json = JSON.parse(await Deno.readTextFile("tokenizer.json"));
 * const tokenizer = await tokenizerFromJson(json);
 * console.log(tokenizer.encode("Hello"));
 * ```
 */
export async function tokenizerFromJson(
  json: unknown,
  config: unknown = {},
): Promise<TextTokenizer> {
  return (await import("./tokenizer_json.ts")).readTokenizerJson(json, config);
}
