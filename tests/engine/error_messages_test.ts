/**
 * Error messages are sentence case (issue #12). Scans the engine sources (engine/**, cli.ts,
 * mod.ts) for `new <Name>Error(` whose first argument is a string or template literal (calls
 * may span lines) and fails, listing every site, when the message starts with neither a
 * capital letter, a quoted name, nor one of the placeholders below that start with a capital
 * themselves.
 */
import { deepStrictEqual } from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/**
 * Placeholders a message may start with: each yields a capitalised text. `nodeLabel(…)` and
 * `where(…)` give `Node "name" (Op)` (checked below); `what` is a parameter whose callers
 * pass a capitalised label; `where` is a local holding `nodeLabel(node)`.
 */
const PLACEHOLDERS = [/^nodeLabel\(/, /^where\(/, /^where$/, /^what$/];

/**
 * Plain `Error`s that are only ever the detail of a typed error (wrapped after a colon or in
 * parentheses, lower case like the messages of the protobuf and DOM errors beside them).
 */
const DETAIL_FILES = new Set([
  "engine/formats/onnx/wire.ts", // decodeOnnx and packSparseModel wrap it.
  "engine/models/sr/zlib.ts", // decodePng wraps it.
  "engine/models/sr/png.ts", // decodePng wraps it.
]);

/** Every .ts file under `dir` (relative to the repository), sorted. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...sources(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The line number of offset `at` in `text`. */
function lineOf(text: string, at: number): number {
  return text.slice(0, at).split("\n").length;
}

/** Whether a message (the text right after its opening quote) starts acceptably. */
function startsWell(message: string, quote: string): boolean {
  if (/^[A-Z]/.test(message)) return true;
  // A quoted name: `"conv_3" has …`, `'relaxed' …`.
  if (/^["']/.test(message) && message[0] !== quote) return true;
  if (quote === "`" && message.startsWith("${")) {
    const expr = message.slice(2, message.indexOf("}"));
    return PLACEHOLDERS.some((p) => p.test(expr.trim()));
  }
  return false;
}

/** `file:line: text` of every message that does not start with a capital. */
function badMessages(file: string, text: string): string[] {
  const bad: string[] = [];
  const report = (at: number, snippet: string) => {
    const line = snippet.split("\n")[0].slice(0, 80);
    bad.push(`${file}:${lineOf(text, at)}: ${line}`);
  };
  for (const m of text.matchAll(/new\s+(\w*)Error\(\s*(["'`])/g)) {
    if (m[1] === "" && DETAIL_FILES.has(file)) continue;
    const start = m.index! + m[0].length;
    if (!startsWell(text.slice(start), m[2])) report(start, text.slice(start));
  }
  // The labels a message may start with must themselves start with a capital.
  for (const m of text.matchAll(/function (?:nodeLabel|where)\([^)]*\)[^{]*\{\s*(return\s*`)/g)) {
    const start = m.index! + m[0].length;
    if (!startsWell(text.slice(start), "`")) {
      report(m.index! + m[0].length - m[1].length, m[1] + text.slice(start));
    }
  }
  return bad;
}

Deno.test("every error message in the engine starts with a capital letter", () => {
  const files = [...sources("engine"), "cli.ts", "mod.ts"];
  const bad = files.flatMap((f) => badMessages(f, Deno.readTextFileSync(new URL(f, ROOT))));
  deepStrictEqual(bad, [], `Messages that do not start with a capital:\n${bad.join("\n")}`);
});

Deno.test("the message scan catches lower-case messages, on one line or several", () => {
  const src = [
    'throw new ShapeError("Good message");',
    'throw new ShapeError("bad message");',
    "throw new DTypeError(\n  `also bad: ${x}`,\n);",
    "throw new Error(`${nodeLabel(node)}: fine`);",
    "throw new Error(`${name}: unknown placeholder`);",
    "throw new InvalidArgumentError('\"opt\" is quoted');",
    "throw new RangeError(message);",
    'function where(node: Node): string {\n  return `node "${node.name}"`;\n}',
  ].join("\n");
  deepStrictEqual(badMessages("engine/x.ts", src).map((b) => b.replace(/: .*/, "")), [
    "engine/x.ts:2",
    "engine/x.ts:4",
    "engine/x.ts:7",
    "engine/x.ts:11",
  ]);
});
