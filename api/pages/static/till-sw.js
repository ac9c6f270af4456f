// The till's service worker: it keeps the shell (the page, its scripts, styles and icon) so the till
// opens without a network and can say it is offline. It never touches the API: a scan always goes
// to the server, and an answer is never made up here.
const CACHE = "punchguard-till-v1";

// The page, and what the browser fetches for it on its own (its icon, its manifest): those never show
// in the page's resource timings, so the page cannot name them below.
const INSTALLED = ["/till", "/console/static/favicon.svg", "/console/static/till.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(INSTALLED)).then(() => self.skipWaiting()));
});

// The page names the shell's files it loaded before this worker started.
self.addEventListener("message", (event) => {
  const urls = (event.data?.keep || []).filter((url) => isShell(new URL(url, self.location.origin)));
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(urls)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

/** The shell's files: the page and the same-origin files it loads, never the API. */
function isShell(url) {
  if (url.origin !== self.location.origin || url.pathname.startsWith("/v1/")) return false;
  return url.pathname === "/till" || /^\/(static|contract|console\/static)\//.test(url.pathname);
}

// Network first, so a new release is picked up at once; the kept copy when there is no network.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !isShell(url)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((kept) => kept || Response.error())),
  );
});
