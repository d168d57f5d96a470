/**
 * tokenizer.json through `@huggingface/tokenizers`, for `tokenizerFromJson` (tokenizer.ts),
 * which loads this module on first use.
 *
 * @module
 */
import { ModelFormatError } from "../../errors.ts";
import { checkIds, checkText, type TextTokenizer } from "./tokenizer.ts";

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

/** `tokenizerFromJson`'s work: the checks, then the library (imported on first use). */
export async function readTokenizerJson(
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
