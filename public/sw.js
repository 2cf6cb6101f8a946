// dermlens' service worker: after one visit the page and its model work
// offline. Only this site's own files are ever cached; nothing is sent
// anywhere. Photos never pass through here: they are read from disk by the
// page and handed to the inference worker in memory.
const CACHE = 'dermlens-v3'; // bumped with the bundle format, so old weights are dropped
const APP_FILES = [
  './', 'index.html', 'style.css', 'boot.js', 'app.js', 'app_bg.wasm',
  'worker_loader.js', 'worker.js', 'worker_bg.wasm',
  'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
  'model/manifest.json',
];

// Weight files are named after their checksum, so a cached one is never stale.
const isWeights = (url) => url.pathname.includes('/model/') && url.pathname.endsWith('.bin');

async function precache() {
  const cache = await caches.open(CACHE);
  await cache.addAll(APP_FILES);
  const manifest = await (await cache.match('model/manifest.json')).json();
  const files = [manifest.shared, ...manifest.members.map((m) => m.weights)].filter(Boolean);
  await cache.addAll(files.map((f) => 'model/' + f.file));
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// App files and the manifest: the network first (so a new version shows up
// at once when online), the cache when offline. Weights: the cache first.
self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (isWeights(url)) {
      const hit = await cache.match(request);
      if (hit) return hit;
      const response = await fetch(request);
      if (response.ok) await cache.put(request, response.clone());
      return response;
    }
    try {
      const response = await fetch(request);
      if (response.ok) await cache.put(request, response.clone());
      return response;
    } catch (offline) {
      const hit = await cache.match(request, { ignoreSearch: true });
      if (hit) return hit;
      throw offline;
    }
  })());
});
