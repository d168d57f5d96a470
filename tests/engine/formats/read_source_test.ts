/**
 * Reading model files from servers that misbehave: a cut connection, a length that lies, a
 * server that stalls, a declared size no Wasm memory can hold. Each is a ModelFormatError
 * naming the URL, never a hang or an untyped error; side files named by a model stay beside it.
 */
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import { ModelFormatError } from "../../../engine/errors.ts";
import { checkBesideName, readSource } from "../../../engine/formats/read_source.ts";

/**
 * A raw TCP server (it can lie where Deno.serve would not): answers each connection with
 * `head`, then `body`, then closes it, unless `hold` keeps it open.
 */
function lyingServer(head: string, body: Uint8Array, hold = false) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      open.push(conn);
      const request = new Uint8Array(4096);
      await conn.read(request).catch(() => null);
      await conn.write(new TextEncoder().encode(head)).catch(() => 0);
      await conn.write(body).catch(() => 0);
      if (!hold) conn.close();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}/model.onnx`,
    close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

const body = new Uint8Array(1000).fill(7);

Deno.test("readSource: a cut body, a stalled server and an absurd length are ModelFormatErrors", async () => {
  const cases = [
    // Content-Length promises more than arrives before the connection closes.
    [
      lyingServer("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", body),
      /connection failed after/,
      {},
    ],
    // Headers, some bytes, then silence with the connection open.
    [
      lyingServer("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", body, true),
      /no data for 0\.3 s/,
      { stallMs: 300 },
    ],
    // More than any Wasm memory holds.
    [
      lyingServer("HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n", body, true),
      /declares 10000000000 bytes/,
      {},
    ],
  ] as const;
  for (const [server, pattern, options] of cases) {
    try {
      await rejects(
        readSource(server.url, "model", options),
        (e) =>
          e instanceof ModelFormatError && pattern.test(e.message) &&
          e.message.includes(server.url),
      );
    } finally {
      server.close();
    }
  }
  // A well-behaved body still reads whole.
  const good = lyingServer("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", body);
  try {
    ok((await readSource(good.url)).every((b) => b === 7));
  } finally {
    good.close();
  }
});

Deno.test("an HTML page where a model file should be is a ModelFormatError saying so", async () => {
  const page = new TextEncoder().encode(
    "\uFEFF\n  <!DOCTYPE html>\n<html><head><title>model.onnx at main</title></head></html>",
  );
  const server = lyingServer(
    `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n`,
    page,
  );
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/model.onnx`;
    await Deno.writeFile(file, new TextEncoder().encode("<html lang=en><body>Not found</body>"));
    for (const [source, what] of [[server.url, "external data"], [file, "model"]]) {
      await rejects(
        readSource(source, what),
        (e) =>
          e instanceof ModelFormatError &&
          e.message.startsWith(`The ${what} "${source}" is an HTML page`),
      );
    }
    // Bytes that only start with "<" are read as they are.
    await Deno.writeFile(file, new TextEncoder().encode("<htmlish binary"));
    ok((await readSource(file)).length === 15);
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("side files a model names stay beside it: no parent, root, other host or scheme", () => {
  for (const name of ["w.bin", "weights/w.bin", "group1-shard1of1.bin"]) {
    checkBesideName(name, "Weight shard");
  }
  for (
    const name of [
      "../w.bin",
      "a/../../w.bin",
      "/etc/passwd",
      "\\\\host\\share",
      "http://other-host/w.bin",
      new URL("w.bin", import.meta.url).href, // a file: URL
      "C:\\w.bin",
    ]
  ) {
    throws(
      () => checkBesideName(name, "External data location"),
      (e) => e instanceof ModelFormatError && /must stay beside the model/.test(e.message),
      name,
    );
  }
});

Deno.test("readSource reads files whole: a regular file, a pipe; a huge or missing file or a directory fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A size that is no multiple of any read chunk.
    const bytes = new Uint8Array(3 * 65536 + 123).map((_, i) => (i * 7 + 3) & 0xff);
    await Deno.writeFile(`${dir}/m.bin`, bytes);
    deepStrictEqual(await readSource(`${dir}/m.bin`), bytes);
    deepStrictEqual(await readSource(new URL(`file://${dir}/m.bin`)), bytes);
    // A named pipe reports no size: it is read to its end.
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
    if (mkfifo.success) {
      const writer = new Deno.Command("sh", {
        args: ["-c", `cat "${dir}/m.bin" > "${dir}/pipe"`],
      }).output();
      deepStrictEqual(await readSource(`${dir}/pipe`), bytes);
      await writer;
    }
    // A (sparse) file past what a Wasm memory holds is refused before any byte is read.
    await Deno.writeFile(`${dir}/huge.onnx`, new Uint8Array(0));
    await Deno.truncate(`${dir}/huge.onnx`, 5 * 2 ** 30);
    await rejects(
      readSource(`${dir}/huge.onnx`),
      (e) =>
        e instanceof ModelFormatError && /huge\.onnx.*more than a model can use/.test(e.message),
    );
    await rejects(
      readSource(dir),
      (e) => e instanceof ModelFormatError && /It is a directory, not a file/.test(e.message),
    );
    await rejects(
      readSource(`${dir}/missing.onnx`),
      (e) => e instanceof ModelFormatError && e.message.includes("missing.onnx"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
