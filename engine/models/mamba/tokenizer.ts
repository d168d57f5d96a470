/**
 * Text ↔ token ids for language models: a Hugging Face `tokenizer.json` (byte-level BPE as in
 * GPT-NeoX, and the other types it supports) through the official `@huggingface/tokenizers`
 * library, or UTF-8 bytes as tokens when a model ships no tokenizer.
 *
 * @module
 */
import { InvalidArgumentError, ModelFormatError } from "../../errors.ts";

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
function checkIds(ids: readonly number[]): void {
  if (!Array.isArray(ids)) {
    throw new InvalidArgumentError("A tokenizer decodes an array of token ids");
  }
  const bad = ids.find((i) => !Number.isInteger(i) || i < 0);
  if (bad !== undefined) {
    throw new InvalidArgumentError(`Cannot decode token id ${bad}: ids are integers from 0`);
  }
}

/** Throws unless `text` is a string. */
function checkText(text: string): string {
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
 * A tokenizer from the contents of tokenizer.json (and tokenizer_config.json, if any). The
 * library is imported on first use, so models without a tokenizer do not download it.
 */
export async function tokenizerFromJson(
  json: unknown,
  config: unknown = {},
): Promise<TextTokenizer> {
  const { Tokenizer } = await import("npm:@huggingface/tokenizers@0.2.0");
  let t: InstanceType<typeof Tokenizer>;
  try {
    t = new Tokenizer(json as Record<string, unknown>, config as Record<string, unknown>);
  } catch (cause) {
    throw new ModelFormatError(`Cannot read tokenizer.json: ${(cause as Error).message}`, {
      cause,
    });
  }
  return {
    kind: "tokenizer.json",
    encode: (text) => t.encode(checkText(text)).ids,
    decode: (ids) => {
      checkIds(ids);
      // The library refuses an empty list; ids past its vocabulary decode to nothing.
      return ids.length === 0 ? "" : t.decode([...ids]);
    },
  };
}
