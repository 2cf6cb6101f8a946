// End-to-end test of the built site (dist/) in real headless Chromium.
//
// Serves dist/ under a sub-path, then for each backend (WebGPU, CPU):
// loads the page, gives it photos through the file input, and checks the
// result, the Grad-CAM overlay, the retake warning, the error on a corrupt
// file, offline use, and that no request left the origin or carried a
// photo, and a damaged model download. Prints sizes and timings; saves screenshots.
//
//   node run.mjs [--dist ../../dist] [--out ../../target/e2e] [--only webgpu|cpu]

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const dist = path.resolve(option('--dist', path.join(here, '../../dist')));
const out = path.resolve(option('--out', path.join(here, '../../target/e2e')));
const only = option('--only', null);
const fixtures = path.join(here, '../fixtures');
const BASE = '/dermlens/';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const failures = [];
function check(condition, message) {
  if (condition) {
    console.log(`  ok   ${message}`);
  } else {
    console.log(`  FAIL ${message}`);
    failures.push(message);
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.webmanifest': 'application/manifest+json', '.bin': 'application/octet-stream',
};

// A static server like any plain host: files only, under a sub-path.
function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (!url.pathname.startsWith(BASE)) {
      res.writeHead(404).end();
      return;
    }
    let file = path.join(dist, decodeURIComponent(url.pathname.slice(BASE.length)));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function sizes() {
  const gz = (file) => zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
  const wasm = ['app_bg.wasm', 'worker_bg.wasm'].map((f) => path.join(dist, f));
  const modelDir = path.join(dist, 'model');
  const model = fs.readdirSync(modelDir).map((f) => path.join(modelDir, f));
  const sum = (files, fn) => files.reduce((s, f) => s + fn(f), 0);
  const raw = (f) => fs.statSync(f).size;
  const mb = (b) => (b / 1e6).toFixed(2) + ' MB';
  const all = fs.readdirSync(dist, { recursive: true }).map((f) => path.join(dist, f)).filter((f) => fs.statSync(f).isFile());
  const figures = {
    wasm: `${mb(sum(wasm, raw))} (gzip ${mb(sum(wasm, gz))}): page ${mb(raw(wasm[0]))}, worker ${mb(raw(wasm[1]))}`,
    model: `${mb(sum(model, raw))} (gzip ${mb(sum(model, gz))})`,
    'first visit, everything': `${mb(sum(all, raw))} (gzip ${mb(sum(all, gz))})`,
  };
  for (const [k, v] of Object.entries(figures)) console.log(`  size ${k}: ${v}`);
  return figures;
}

// Grey-level spread of the canvas, and how much the heat map changes it.
async function canvasStats(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector('[data-test=heatmap]');
    const { width, height } = canvas;
    const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let sum = 0;
    let sq = 0;
    const n = width * height;
    for (let i = 0; i < pixels.length; i += 4) {
      const v = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    return { width, height, std: Math.sqrt(sq / n - mean * mean), pixels: Array.from(pixels) };
  });
}

function overlayStats(withHeat, plain) {
  // The overlay's own contribution: per-pixel difference from the plain photo.
  const diffs = [];
  for (let i = 0; i < withHeat.pixels.length; i += 4) {
    diffs.push(Math.abs(withHeat.pixels[i] - plain.pixels[i]) + Math.abs(withHeat.pixels[i + 1] - plain.pixels[i + 1]) + Math.abs(withHeat.pixels[i + 2] - plain.pixels[i + 2]));
  }
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const std = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / diffs.length);
  return { mean, std };
}

async function giveFile(page, file) {
  await page.setInputFiles('#photo-input', file);
}

async function waitForResult(page, previousSummary, timeout) {
  await page.waitForFunction(
    (previous) => {
      const s = document.querySelector('[data-test=summary]');
      return s && s.textContent !== previous && !document.querySelector('[data-test=busy]');
    },
    previousSummary,
    { timeout },
  );
}

async function runBackend(browser, origin, backend) {
  console.log(`\n# ${backend}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const requests = [];
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer() }));
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const url = `${origin}${BASE}?backend=${backend}`;

  const loadStart = Date.now();
  await page.goto(url);
  await page.waitForSelector('[data-test=model-ready], [data-test=model-error]', { timeout: 600_000 });
  const status = await page.textContent('[data-test=model-status]');
  check(await page.$('[data-test=model-ready]'), `model loads (${status.trim()})`);
  const ran = await page.getAttribute('[data-test=model-ready]', 'data-backend');
  check(backend === 'cpu' ? ran.startsWith('CPU') : ran === 'WebGPU', `runs on the expected backend: ${ran}`);
  const loadMs = Date.now() - loadStart;

  const nv = path.join(fixtures, 'ham10000/images/ISIC_0034282.jpg');
  let t = Date.now();
  await giveFile(page, nv);
  await waitForResult(page, null, 300_000);
  const firstResultMs = Date.now() - t;
  const timing = (await page.textContent('[data-test=timing]')).trim();
  console.log(`  time: page open to model ready ${loadMs} ms; photo to result ${firstResultMs} ms (${timing})`);

  const probabilities = await page.$$eval('[data-test=probability]', (els) => els.map((e) => parseFloat(e.textContent)));
  const total = probabilities.reduce((a, b) => a + b, 0);
  check(probabilities.length === 7, `seven class probabilities shown (${probabilities.join(', ')})`);
  check(Math.abs(total - 100) <= 0.6, `probabilities sum to about 100% (${total.toFixed(2)})`);
  const sorted = probabilities.every((p, i) => i === 0 || probabilities[i - 1] >= p);
  check(sorted, 'bars are sorted, most likely first');
  const summary = await page.textContent('[data-test=summary]');
  check(/malignant/.test(summary), `a summary with the malignant share: "${summary}"`);
  check(await page.$('.disclaimer'), 'the not-a-diagnosis note is there');
  const announced = await page.textContent('[data-test=announcement]');
  check(announced.includes(summary.trim()), 'the live region announces the result');
  check(!(await page.$('[data-test=not-a-lesion]')), 'a lesion photo is not called "not a lesion"');

  const withHeat = await canvasStats(page);
  await page.setChecked('[data-test=heat-toggle]', false);
  const plain = await canvasStats(page);
  await page.setChecked('[data-test=heat-toggle]', true);
  const overlay = overlayStats(withHeat, plain);
  check(withHeat.width > 0 && overlay.mean > 1, `the heat map changes the photo (mean change ${overlay.mean.toFixed(1)})`);
  check(overlay.std > 5, `the Grad-CAM overlay is not uniform (spread ${overlay.std.toFixed(1)})`);
  const options = await page.$$eval('[data-test=heat-class] option', (els) => els.map((e) => e.value));
  await page.selectOption('[data-test=heat-class]', options[options.length - 1]);
  const otherClass = await canvasStats(page);
  check(overlayStats(otherClass, withHeat).mean > 0.5, 'choosing another class redraws the map');
  await page.fill('[data-test=heat-opacity]', '0');
  await page.dispatchEvent('[data-test=heat-opacity]', 'input');
  const transparent = await canvasStats(page);
  check(overlayStats(transparent, plain).mean < 0.5, 'opacity 0 shows the plain photo');

  let previous = await page.textContent('[data-test=summary]');
  await giveFile(page, path.join(fixtures, 'e2e/blurred.png'));
  await waitForResult(page, '__never__', 300_000);
  await page.waitForSelector('[data-test=retake]', { timeout: 60_000 }).catch(() => {});
  const retake = await page.$('[data-test=retake]');
  check(retake, `a blurred photo asks for a retake${retake ? ': "' + (await retake.textContent()).trim() + '"' : ''}`);

  previous = await page.textContent('[data-test=summary]');
  await giveFile(page, path.join(fixtures, 'e2e/stripes.png'));
  await waitForResult(page, previous, 300_000);
  const unfamiliar = await page.$('[data-test=not-a-lesion]');
  check(unfamiliar, `a picture of stripes is called not a lesion${unfamiliar ? ': "' + (await unfamiliar.textContent()).trim() + '"' : ''}`);

  await giveFile(page, path.join(fixtures, 'e2e/corrupt.jpg'));
  await page.waitForSelector('[data-test=error]', { timeout: 60_000 }).catch(() => {});
  const error = await page.$('[data-test=error]');
  check(error, `a corrupt file gives an error${error ? ': "' + (await error.textContent()).trim() + '"' : ''}`);
  previous = null;
  await giveFile(page, path.join(fixtures, 'ham10000/images/ISIC_0031709.jpg'));
  await waitForResult(page, previous, 300_000);
  check(await page.$('[data-test=result]'), 'the page still works after the error');

  if (backend === 'cpu') {
    await page.screenshot({ path: path.join(out, 'desktop.png'), fullPage: true });
    // Offline: the service worker has cached the app and the model.
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(async () => (await caches.keys()).length > 0 && (await (await caches.open((await caches.keys())[0])).keys()).length >= 14, null, { timeout: 120_000 });
    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('[data-test=model-ready], [data-test=model-error]', { timeout: 600_000 });
    check(await page.$('[data-test=model-ready]'), 'offline: the page and model load from the cache');
    await giveFile(page, nv);
    await waitForResult(page, null, 300_000);
    check(await page.$('[data-test=result]'), 'offline: a photo is analysed');
    await context.setOffline(false);
  }

  const origin_ = new URL(origin).origin;
  const foreign = requests.filter((r) => !r.url.startsWith(origin_) && !r.url.startsWith('data:') && !r.url.startsWith('blob:'));
  check(foreign.length === 0, `no request left the origin (${requests.length} requests${foreign.length ? '; e.g. ' + foreign[0].url : ''})`);
  const photoBytes = [nv, path.join(fixtures, 'e2e/blurred.png')].map((f) => fs.readFileSync(f).subarray(0, 64));
  const carrying = requests.filter((r) => r.method !== 'GET' || (r.body && r.body.length > 0) || photoBytes.some((p) => r.body && r.body.includes(p)));
  check(carrying.length === 0, 'no request carried a body (so no photo): all are GETs');
  check(consoleErrors.length === 0, `no errors on the console${consoleErrors.length ? ': ' + consoleErrors.slice(0, 3).join(' | ') : ''}`);
  await context.close();
  return { loadMs, firstResultMs, timing, requests: requests.length };
}

// Without ?backend=, the app uses WebGPU only on a hardware adapter: on a
// software one (SwiftShader here) the CPU backend is far faster.
async function automaticChoice(browser, origin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}`);
  const adapter = await page.evaluate(async () => {
    if (!navigator.gpu) return null;
    const a = await navigator.gpu.requestAdapter();
    if (!a) return null;
    const info = a.info || {};
    return { fallback: info.isFallbackAdapter === true || a.isFallbackAdapter === true, text: [info.vendor, info.architecture, info.device, info.description].join(' ') };
  });
  await page.waitForSelector('[data-test=model-ready], [data-test=model-error]', { timeout: 600_000 });
  const ran = await page.getAttribute('[data-test=model-ready]', 'data-backend');
  const software = !adapter || adapter.fallback || /swiftshader|llvmpipe|lavapipe|software/i.test(adapter.text);
  const described = adapter ? `adapter "${adapter.text.trim()}"${adapter.fallback ? ', fallback' : ''}` : 'no WebGPU adapter';
  check(software ? ran && ran.startsWith('CPU') : ran === 'WebGPU', `the automatic choice fits the hardware (${described}): ${ran}`);
  await context.close();
}

async function phoneScreenshot(browser, origin) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}?backend=cpu`);
  await page.waitForSelector('[data-test=model-ready]', { timeout: 600_000 });
  await giveFile(page, path.join(fixtures, 'ham10000/images/ISIC_0031709.jpg'));
  await waitForResult(page, null, 300_000);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check(!overflow, 'nothing overflows a 390 px wide phone screen');
  await page.screenshot({ path: path.join(out, 'phone.png'), fullPage: true });
  await context.close();
}

// A damaged download: one weight file cut in half on the way.
async function truncatedModel(browser, origin) {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.route(/\/model\/member-0-[0-9a-f]+\.bin$/, async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    await route.fulfill({ response, body: body.subarray(0, body.length >> 1) });
  });
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}?backend=cpu`);
  await page.waitForSelector('[data-test=model-ready], [data-test=model-error]', { timeout: 600_000 });
  const error = await page.$('[data-test=model-error]');
  check(error, `a truncated model file gives a clear error${error ? ': "' + (await error.textContent()).trim() + '"' : ''}`);
  await context.close();
}

async function main() {
  if (!fs.existsSync(path.join(dist, 'index.html'))) {
    console.error(`no built site in ${dist}: run \`trunk build --release\` first`);
    process.exit(1);
  }
  fs.mkdirSync(out, { recursive: true });
  console.log('# sizes');
  const figures = sizes();
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu'],
  });
  const results = {};
  try {
    for (const backend of ['webgpu', 'cpu']) {
      if (!only || only === backend) results[backend] = await runBackend(browser, origin, backend);
    }
    if (!only || only === 'cpu') {
      await automaticChoice(browser, origin);
      await phoneScreenshot(browser, origin);
      await truncatedModel(browser, origin);
    }
  } finally {
    await browser.close();
    server.close();
  }
  fs.writeFileSync(path.join(out, 'figures.json'), JSON.stringify({ sizes: figures, results }, null, 2));
  console.log(`\nscreenshots and figures in ${out}`);
  if (failures.length) {
    console.log(`\n${failures.length} check(s) failed:\n - ${failures.join('\n - ')}`);
    process.exit(1);
  }
  console.log('\nall checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
