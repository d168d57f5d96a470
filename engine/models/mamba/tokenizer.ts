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
 * Throws a ModelFormatError unless every token id tokenizer.json gives (its model's vocab
 * map, its added tokens) is a whole number from 0: the library takes any JSON value as an id
 * and would hand it out from `encode`.
 */
function checkTokenIds(json: unknown): void {
  const fail = (what: string, id: unknown) =>
    new ModelFormatError(
      `Cannot read tokenizer.json: ${what} has id ${JSON.stringify(id) ?? String(id)}, not ` +
        `a whole number from 0`,
    );
  const isId = (id: unknown) => Number.isSafeInteger(id) && (id as number) >= 0;
  const j = json as { model?: { vocab?: unknown }; added_tokens?: unknown } | null;
  const vocab = j?.model?.vocab;
  // BPE and WordPiece map tokens to ids; Unigram lists [piece, score] pairs (ids by position).
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!isId(id)) throw fail(`token ${JSON.stringify(token)}`, id);
    }
  }
  if (Array.isArray(j?.added_tokens)) {
    for (const t of j.added_tokens as { id?: unknown; content?: unknown }[]) {
      if (!isId(t?.id)) throw fail(`added token ${JSON.stringify(t?.content)}`, t?.id);
    }
  }
}

/**
 * A tokenizer from the contents of tokenizer.json (and tokenizer_config.json, if any). The
 * library is imported on first use, so models without a tokenizer do not download it.
 */
export async function tokenizerFromJson(
  json: unknown,
  config: unknown = {},
): Promise<TextTokenizer> {
  checkTokenIds(json);
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
