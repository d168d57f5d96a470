/**
 * Range reads over HTTP against the bytes served: windowed small reads, large reads streamed
 * into place, reads at and past the end; a server without ranges gives undefined (download
 * whole); one that sends other bytes than asked, or a 404, is a typed error.
 */
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { ModelFormatError } from "../../../engine/errors.ts";
import { openHttpRanges } from "../../../engine/formats/http_ranges.ts";
import { isMissingSource } from "../../../engine/formats/read_source.ts";
import { Random } from "../../_random.ts";

const rng = new Random(5);
const FILE = Uint8Array.from({ length: 5000 }, () => rng.int(0, 255));

/** Serves FILE at /f: ranges per `mode`; `log` gets each request's range ("full" without). */
function server(mode: "ranges" | "none" | "shifted-later", log: string[]) {
  let served = 0;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/f") return new Response("no", { status: 404 });
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
    log.push(m ? `${m[1]}-${m[2]}` : "full");
    if (!m || mode === "none") return new Response(FILE);
    const start = Number(m[1]) + (mode === "shifted-later" && served++ > 0 ? 1 : 0);
    const end = Math.min(FILE.length - 1, Number(m[2]));
    return new Response(FILE.subarray(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${FILE.length}` },
    });
  });
}

Deno.test("HTTP range reads give the served bytes: windowed, streamed, at the end", async () => {
  const log: string[] = [];
  const s = server("ranges", log);
  try {
    const url = new URL(`http://127.0.0.1:${s.addr.port}/f`);
    const r = (await openHttpRanges(url, "test file", { windowBytes: 64 }))!;
    deepStrictEqual(r.size, FILE.length);
    deepStrictEqual(log, ["0-63"]);
    // [position, length]: inside the first window, a new window, streamed (≥ 64), the tail.
    for (
      const [p, n] of [[3, 20], [40, 24], [70, 10], [75, 30], [200, 1000], [4990, 50], [6000, 4]]
    ) {
      const into = new Uint8Array(n);
      const got = await r.read(into, p);
      const want = FILE.subarray(p, p + n);
      deepStrictEqual(got, want.length, `read ${p}+${n}`);
      deepStrictEqual([...into.subarray(0, got)], [...want], `bytes ${p}+${n}`);
    }
    ok(log.includes("200-1199"), `the large read streamed in one request: ${log}`);
    ok(!log.includes("full"));
  } finally {
    await s.shutdown();
  }
});

Deno.test("HTTP range reads: no range support gives undefined; wrong bytes and 404 are typed errors", async () => {
  const plain = server("none", []);
  const shifted = server("shifted-later", []);
  try {
    deepStrictEqual(
      await openHttpRanges(new URL(`http://127.0.0.1:${plain.addr.port}/f`), "test file"),
      undefined,
    );
    const missing = await openHttpRanges(
      new URL(`http://127.0.0.1:${plain.addr.port}/nope`),
      "test file",
    ).catch((e) => e);
    ok(missing instanceof ModelFormatError && isMissingSource(missing), String(missing));
    const r = (await openHttpRanges(
      new URL(`http://127.0.0.1:${shifted.addr.port}/f`),
      "test file",
      { windowBytes: 64 },
    ))!;
    await rejects(
      r.read(new Uint8Array(10), 100),
      (e) =>
        e instanceof ModelFormatError && /asked for bytes 100-163, it sent 101-163/.test(e.message),
    );
  } finally {
    await plain.shutdown();
    await shifted.shutdown();
  }
});
