// Caches the page, the engine bundle and the model on first visit; serves them cache-first,
// so the app works offline. Bump CACHE when the files change.
const CACHE = "quartet-pwa-v1";

self.addEventListener("install", (event) => {
  event.waitUntil(
    fetch("files.json").then((r) => r.json()).then((files) =>
      caches.open(CACHE).then((c) => c.addAll(files))
    ).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) =>
      Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))
    )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  url.search = "";
  event.respondWith(
    caches.match(url.href).then((hit) => hit ?? fetch(event.request)),
  );
});
