// dermlens' service worker: after one visit the page works offline, and a
// new version of the app or the model is noticed and offered. Only this
// site's own files are cached; nothing is sent anywhere. Photos never pass
// through here: the page reads them from disk and hands them to the
// inference worker in memory.
//
// - The app's files (and the model's manifest) live in one cache named
//   after the digest of all of them, `dermlens-app-<digest>`: a new app or a
//   new model (whose manifest names its weights by checksum) is a new name.
//   A pointer in `dermlens-meta` says which cache is current; every other
//   dermlens cache but the weights' is deleted.
// - The weights are not handled here at all: the inference worker fetches
//   each once, checks its sha256 against the manifest and keeps it in its own
//   cache, `dermlens-model-<manifest digest>` (and removes older ones), so the
//   model is downloaded once, and a damaged copy is replaced, never served.
// - The page asks (message `dermlens-check-update`) once its model is ready
//   and when it comes back into view; at most every few minutes this worker
//   fetches the app's files afresh, and if their digest changed it fills the
//   new cache, makes it current and tells the page (`dermlens-update-ready`),
//   which offers to reload.

const APP_PREFIX = 'dermlens-app-';
const MODEL_PREFIX = 'dermlens-model-'; // the inference worker's weight caches
const META = 'dermlens-meta';
const APP_FILES = [
  './', 'index.html', 'style.css', 'boot.js', 'app.js', 'app_bg.wasm',
  'worker_loader.js', 'worker.js', 'worker_bg.wasm',
  'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
  'model/manifest.json',
];
// Kept when the site has them (an interim model bundle may lack its card).
const OPTIONAL_FILES = ['model/MODEL_CARD.md'];
const CHECK_EVERY_MS = 5 * 60 * 1000;

const isWeights = (url) => url.pathname.includes('/model/') && url.pathname.endsWith('.bin');

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Every app file as the site serves it now, and the cache name their digest gives.
// `mode` is the HTTP cache mode: 'force-cache' on the first install (reuse
// what the page has just downloaded), 'no-cache' when looking for updates.
async function fetchVersion(mode) {
  const files = [];
  const digests = [];
  for (const file of [...APP_FILES, ...OPTIONAL_FILES]) {
    const optional = OPTIONAL_FILES.includes(file);
    let response;
    try {
      response = await fetch(new Request(file, { cache: mode }));
    } catch (error) {
      if (optional) continue;
      throw error;
    }
    if (!response.ok) {
      if (optional) continue;
      throw new Error(`${file}: the server answered ${response.status}`);
    }
    const body = await response.arrayBuffer();
    digests.push(`${file} ${await sha256(body)}`);
    files.push({ file, body, type: response.headers.get('content-type') || '' });
  }
  const digest = await sha256(new TextEncoder().encode(digests.join('\n')));
  return { name: APP_PREFIX + digest.slice(0, 16), files };
}

async function store(version) {
  const cache = await caches.open(version.name);
  for (const { file, body, type } of version.files) {
    await cache.put(file, new Response(body, { headers: type ? { 'content-type': type } : {} }));
  }
}

async function readMeta() {
  const hit = await (await caches.open(META)).match('meta');
  return hit ? hit.json() : null;
}

async function writeMeta(meta) {
  const body = JSON.stringify(meta);
  await (await caches.open(META)).put('meta', new Response(body, { headers: { 'content-type': 'application/json' } }));
}

// Deletes every dermlens cache but the current app files, the pointer and
// the weights (the inference worker removes old weights itself, once a new
// model has loaded). Caches of earlier versions of this worker go too.
async function evict(keep) {
  for (const key of await caches.keys()) {
    if (key === keep || key === META || key.startsWith(MODEL_PREFIX)) continue;
    if (key.startsWith('dermlens-')) await caches.delete(key);
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const known = await readMeta();
    const version = await fetchVersion(known ? 'no-cache' : 'force-cache');
    await store(version);
    await writeMeta({ name: version.name, checked: Date.now() });
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const meta = await readMeta();
    if (meta) await evict(meta.name);
    await self.clients.claim();
  })());
});

// Looks are queued, never merged: a forced look always sees the site as it is now.
let looking = Promise.resolve();
function checkForUpdate(force) {
  looking = looking.then(() => lookForUpdate(force)).catch(() => {});
  return looking;
}

async function lookForUpdate(force) {
  const meta = await readMeta();
  if (!meta || (!force && Date.now() - (meta.checked || 0) < CHECK_EVERY_MS)) return;
  let version;
  try {
    version = await fetchVersion('no-cache');
  } catch (offline) {
    return; // nothing to compare with; look again later
  }
  if (version.name === meta.name) {
    await writeMeta({ ...meta, checked: Date.now() });
    return;
  }
  await store(version);
  await writeMeta({ name: version.name, checked: Date.now() });
  await evict(version.name);
  for (const client of await self.clients.matchAll({ type: 'window' })) {
    client.postMessage({ type: 'dermlens-update-ready' });
  }
}

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'dermlens-check-update') {
    event.waitUntil(checkForUpdate(event.data.force === true));
  }
});

// The app's files from the current cache (so the page, its code and its
// model's manifest always belong together, online or not); anything else,
// and the weights, from the network.
self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || isWeights(url)) return;
  event.respondWith((async () => {
    const meta = await readMeta();
    if (meta) {
      const cache = await caches.open(meta.name);
      const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
      if (hit) return hit;
    }
    return fetch(request);
  })());
});
