/**
 * A test HTTP server that answers Range requests, as Hugging Face and most static hosts do.
 *
 * @module
 */

/**
 * Serves `files` under /<name> on 127.0.0.1, answering Range requests (bytes=a-b) with 206 and
 * Content-Range, or with `lie` a range shifted by one byte; `log` gets each request's file and
 * range ("full" without one).
 */
export function serveRanges(
  files: Record<string, Uint8Array<ArrayBuffer>>,
  log: string[],
  lie = false,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const name = new URL(req.url).pathname.slice(1);
    const body = files[name];
    if (!body) return new Response("not found", { status: 404 });
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("range") ?? "");
    log.push(`${name} ${m ? `${m[1]}-${m[2]}` : "full"}`);
    if (!m) return new Response(body);
    const start = Number(m[1]) + (lie ? 1 : 0);
    const end = Math.min(body.length - 1, Number(m[2]));
    return new Response(body.subarray(start, end + 1), {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${body.length}` },
    });
  });
}
