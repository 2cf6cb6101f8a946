// End-to-end test of the built site (dist/) in real headless Chromium.
//
// Serves dist/ under a sub-path, then for each backend (WebGPU, CPU):
// loads the page and gives it a photo at once (before the model is ready),
// checks the result (whole percents, ranges, the uncertain badge's reasons,
// the malignant marks, the heat-map legend), the Grad-CAM overlay, the
// retake warning, the error on a corrupt file, and that no request left the
// origin or carried a body. On the CPU it also checks the downloaded report,
// the spot history (save, reload, compare, export, import, delete), that the
// weights are downloaded once, a damaged cached weight file being replaced,
// offline use and an update being offered. Then: the automatic backend,
// German and English, a 390 px phone screen, dark mode, an accessibility
// audit (axe-core), a damaged model download and downloads larger than
// the bundle declares. On both backends the page's probabilities are
// compared with `dermlens predict` (--cli) on the same photos and bundle.
// Prints sizes and timings; saves screenshots.
//
//   node run.mjs --cli ../../target/release/dermlens [--dist ../../dist]
//                [--out ../../target/e2e] [--only webgpu|cpu]

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const dist = path.resolve(option('--dist', path.join(here, '../../dist')));
const out = path.resolve(option('--out', path.join(here, '../../target/e2e')));
const only = option('--only', null);
const cli = option('--cli', null);
// The page and the CLI run the same int8 bundle through the same code; what
// may differ is the order of floating-point sums (WebGPU's shaders, wasm's
// SIMD). One percentage point is far above that and far below a changed answer.
const CLI_TOLERANCE = 0.01;
const fixtures = path.join(here, '../fixtures');
const BASE = '/dermlens/';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const axePath = require.resolve('axe-core/axe.min.js');
const PHONE_WIDTH = 390;
const SPOT = 'left shoulder';

const failures = [];
function check(condition, message) {
  if (condition) {
    console.log(`  ok   ${message}`);
  } else {
    console.log(`  FAIL ${message}`);
    failures.push(message);
  }
  return !!condition;
}

// Evaluates an async function in the page until it gives a truthy value, and
// returns that value (null after the timeout). Playwright's waitForFunction
// does not await a promise its predicate returns: a pending promise counts as
// truthy, so a check built on it reads the page's state too early.
async function until(page, fn, timeout, arg) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg).catch(() => null);
    if (value) return value;
    if (Date.now() > end) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.webmanifest': 'application/manifest+json', '.bin': 'application/octet-stream',
  '.md': 'text/markdown; charset=utf-8',
};

// Every path the server sent a file for, in order, with the bytes it sent
// and their encoding, and where the current backend's first visit began in
// that list.
const served = [];
let firstVisitStart = 0;

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
    // Like a host serving precompressed files (nginx's brotli_static and
    // gzip_static): the .br or .gz copy trunk's build wrote, if the browser
    // accepts it and the copy is not older than the file (the update test
    // edits a file and leaves its copies behind).
    const accepted = String(req.headers['accept-encoding'] || '').split(',').map((e) => e.trim().split(';')[0]);
    const stat = fs.statSync(file);
    const [body, encoding] = [['br', '.br'], ['gzip', '.gz']]
      .map(([name, ext]) => [file + ext, name])
      .find(([copy, name]) => accepted.includes(name) && fs.existsSync(copy) && fs.statSync(copy).mtimeMs >= stat.mtimeMs)
      || [file, null];
    const bytes = fs.statSync(body).size;
    served.push({ path: url.pathname, file, bytes, encoding });
    // Like a plain host: a validator, no explicit freshness.
    const headers = {
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'last-modified': stat.mtime.toUTCString(),
      'content-length': bytes,
      vary: 'accept-encoding',
    };
    if (encoding) headers['content-encoding'] = encoding;
    res.writeHead(200, headers);
    fs.createReadStream(body).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const mb = (b) => (b / 1e6).toFixed(2) + ' MB';

function sizes() {
  // The build's own compressed copies where it wrote them (compressing the
  // worker again at Brotli's top quality would take half a minute).
  const copy = (file, ext, compress) => (fs.existsSync(file + ext) ? fs.statSync(file + ext).size : compress(fs.readFileSync(file)).length);
  const gz = (file) => copy(file, '.gz', (b) => zlib.gzipSync(b, { level: 9 }));
  const br = (file) => copy(file, '.br', (b) => zlib.brotliCompressSync(b, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY },
  }));
  const wasm = ['app_bg.wasm', 'worker_bg.wasm'].map((f) => path.join(dist, f));
  const site = fs.readdirSync(dist, { recursive: true }).map((f) => path.join(dist, f))
    .filter((f) => fs.statSync(f).isFile() && !/\.(br|gz)$/.test(f));
  const model = site.filter((f) => f.startsWith(path.join(dist, 'model') + path.sep));
  const sum = (files, fn) => files.reduce((s, f) => s + fn(f), 0);
  const raw = (f) => fs.statSync(f).size;
  const figures = {
    wasm: `${mb(sum(wasm, raw))} (gzip ${mb(sum(wasm, gz))}, brotli ${mb(sum(wasm, br))}): page ${mb(raw(wasm[0]))}, worker ${mb(raw(wasm[1]))}`,
    model: `${mb(sum(model, raw))} (gzip ${mb(sum(model, gz))}, brotli ${mb(sum(model, br))})`,
    'the whole site': `${mb(sum(site, raw))} (gzip ${mb(sum(site, gz))}, brotli ${mb(sum(site, br))})`,
  };
  for (const [k, v] of Object.entries(figures)) console.log(`  size ${k}: ${v}`);
  // The page only shows results: burn belongs to the worker alone (when
  // the page linked it, its wasm was 6.8 MB).
  check(raw(wasm[0]) <= 2e6, `the page's wasm is ${mb(raw(wasm[0]))}, without burn (only the worker links it)`);
  return figures;
}

const manifest = () => JSON.parse(fs.readFileSync(path.join(dist, 'model/manifest.json'), 'utf8'));
const weightFiles = () => {
  const m = manifest();
  return [m.shared, ...m.members.map((x) => x.weights)].filter(Boolean);
};

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
      return s && s.textContent !== previous && !document.querySelector('[data-test=busy], [data-test=waiting]');
    },
    previousSummary,
    { timeout },
  );
}

// The last console lines of every page and worker, shown when a page stalls.
const recentConsole = [];
function watchConsole(context) {
  context.on('console', (m) => {
    recentConsole.push(`${m.type()}: ${m.text().slice(0, 300)}`);
    if (recentConsole.length > 20) recentConsole.shift();
  });
  return context;
}

async function waitForModel(page) {
  const found = await page.waitForSelector('[data-test=model-ready], [data-test=model-error]', { timeout: 300_000 }).catch(() => null);
  if (!found) {
    const text = (await page.textContent('body').catch(() => '')).slice(0, 600);
    throw new Error(`the model neither loaded nor failed within 5 minutes; the page says: ${text}\nrecent console:\n${recentConsole.join('\n')}`);
  }
  return !!(await page.$('[data-test=model-ready]'));
}

// Shown percents: whole, "under 1%" or "over 99%", never 0% or 100%.
const PERCENT = /^(under 1%|over 99%|[1-9][0-9]?%)$/;

// `dermlens predict`'s probabilities for `photo` with the site's bundle, by class code.
function cliProbabilities(photo, extra = []) {
  if (!cli || !fs.existsSync(cli)) return null;
  const csv = path.join(out, `cli-${path.basename(photo)}.csv`);
  const run = spawnSync(cli, ['predict', photo, '--model', path.join(dist, 'model'), '--out', csv, ...extra], { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(run.stderr);
    return null;
  }
  const [header, row] = fs.readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(','));
  const codes = header.slice(1, header.indexOf('prediction'));
  return Object.fromEntries(codes.map((c) => [c, parseFloat(row[header.indexOf(c)])]));
}

// The shown result equals the CLI's for the same photo (and the same metadata, `extra`).
async function matchesCli(page, photo, backend, extra = [], what = '') {
  const shown = await page.$$eval('[data-test=class-row]', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.code, parseFloat(e.querySelector('[data-test=probability]').dataset.value)])));
  const expected = cliProbabilities(photo, extra);
  if (!check(expected, `dermlens predict answered for ${path.basename(photo)} (--cli ${cli})`)) return;
  const codes = Object.keys(expected);
  const worst = Math.max(...codes.map((c) => Math.abs((shown[c] ?? Infinity) - expected[c])));
  check(codes.length === 7 && worst <= CLI_TOLERANCE,
    `on ${backend}, ${path.basename(photo)}'s probabilities${what} match dermlens predict's within ${CLI_TOLERANCE} (largest difference ${worst.toExponential(1)})`);
}

// Answers the three questions as a person does; each answer re-analyses
// the photo, so this waits for the last one's result.
async function answer(page, age, sex, site) {
  await page.fill('[data-test=age]', age);
  await page.dispatchEvent('[data-test=age]', 'change');
  await page.selectOption('[data-test=sex]', sex);
  await page.selectOption('[data-test=site]', site);
  await page.waitForTimeout(300);
  await page.waitForFunction(() => !document.querySelector('[data-test=busy], [data-test=waiting]'), null, { timeout: 120_000 });
}

// Age, sex and body site: asked (optionally) because the bundle has a prior
// for them; answering re-analyses the photo on screen with them, as
// `dermlens predict --metadata` does; nothing of them is stored.
async function aboutChecks(page, photo, backend) {
  const about = await page.$('[data-test=about]');
  if (!check(about, 'the page offers the optional age, sex and body-site questions')) return;
  await page.click('[data-test=about] summary');
  const why = (await page.textContent('[data-test=about]')).trim();
  check(/not stored/.test(why), `and says why and that nothing is stored ("${why.slice(0, 120)}…")`);
  const metadata = path.join(out, 'metadata.csv');
  fs.writeFileSync(metadata, `image_id,age,sex,localization\n${path.basename(photo, '.jpg')},70,male,back\n`);
  await answer(page, '70', 'male', 'back');
  await matchesCli(page, photo, backend, ['--metadata', metadata], ' with age 70, male, back');
  check(await page.$('[data-test=with-metadata]'), 'the result says the answers were weighed in');
  const [plain, told] = [cliProbabilities(photo), cliProbabilities(photo, ['--metadata', metadata])];
  if (plain && told) {
    const moved = Math.max(...Object.keys(plain).map((c) => Math.abs(plain[c] - told[c])));
    check(moved > CLI_TOLERANCE, `and the answers change the result (by up to ${moved.toFixed(3)})`);
  }
  const kept = await page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    return JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, names });
  });
  check(!/male|"age"|back/.test(kept), `the answers are not stored (storage: ${kept.slice(0, 160)})`);
  // Taking them back gives the photo's own result again.
  await answer(page, '', '', '');
  await matchesCli(page, photo, backend, [], ' with the answers taken back');
  check(!(await page.$('[data-test=with-metadata]')), 'and no longer says they were weighed in');
}

async function resultChecks(page) {
  const values = await page.$$eval('[data-test=probability]', (els) => els.map((e) => ({ text: e.textContent.trim(), p: parseFloat(e.dataset.value) })));
  const total = values.reduce((a, b) => a + b.p, 0);
  check(values.length === 7, `seven class probabilities shown (${values.map((v) => v.text).join(', ')})`);
  check(Math.abs(total - 1) <= 0.006, `probabilities sum to 1 (${total.toFixed(4)})`);
  check(values.every((v, i) => i === 0 || values[i - 1].p >= v.p), 'bars are sorted, most likely first');
  check(values.every((v) => PERCENT.test(v.text)), 'every percent is whole, "under 1%" or "over 99%", never 0% or 100%');
  const ranges = await page.$$eval('[data-test=range]', (els) => els.map((e) => e.textContent.trim()));
  if (manifest().members.length > 1) {
    check(ranges.length === 7 && ranges.every((r) => /networks give/.test(r)), `each class shows its range over the networks (e.g. "${ranges[0]}")`);
  } else {
    check(ranges.length === 0, 'a one-network bundle shows no ranges over networks');
  }
  const tags = await page.$$eval('[data-test=class-row]', (rows) => rows.map((r) => ({ code: r.dataset.code, tagged: !!r.querySelector('[data-test=malignant-tag]') })));
  const malignant = manifest().classes.filter((c) => c.malignant).map((c) => c.code).sort();
  check(JSON.stringify(tags.filter((t) => t.tagged).map((t) => t.code).sort()) === JSON.stringify(malignant), `malignant classes are marked in text (${malignant.join(', ')})`);
  const summary = await page.textContent('[data-test=summary]');
  check(/malignant/.test(summary) && !/100%/.test(summary), `a summary with the malignant share: "${summary}"`);
  check(await page.$('[data-test=disclaimer]'), 'the not-a-diagnosis note is there');
  const announced = await page.textContent('[data-test=announcement]');
  check(announced.includes(summary.trim()), 'the live region announces the result');
  if (await page.$('[data-test=uncertain]')) {
    const reasons = await page.$$eval('[data-test=cautions] li', (els) => els.map((e) => e.textContent));
    check(reasons.length > 0 && reasons.every((r) => /^Why/.test(r)), `the "Uncertain" badge says why: ${reasons.join(' | ')}`);
  }
  check(await page.$('[data-test=legend] canvas'), 'the heat map has a colour legend');
  const explainer = await page.textContent('[data-test=heatmap-explainer]');
  check(/coarse: \d+ × \d+ cells/.test(explainer) && /not an outline/.test(explainer), 'one sentence says what the heat map does and does not show');
  const note = await page.textContent('[data-test=training-note]');
  check(/dermatoscope/.test(note) && /light skin/.test(note), 'a note on dermoscopy training data and light skin');
  return summary;
}

async function provenanceChecks(page, origin) {
  const provenance = await page.$('[data-test=provenance]');
  check(provenance, `the page shows the bundle's provenance${provenance ? ': "' + (await provenance.textContent()).trim().slice(0, 120) + '…"' : ''}`);
  const href = await page.getAttribute('[data-test=model-card]', 'href');
  if (fs.existsSync(path.join(dist, 'model/MODEL_CARD.md'))) {
    const card = await page.evaluate(async (h) => {
      const response = await fetch(h);
      return { status: response.status, text: await response.text() };
    }, href);
    check(card.status === 200 && /^# /.test(card.text), `the model card link works (${href}: ${card.status}, ${card.text.length} characters)`);
  } else {
    console.log(`  note the bundle has no MODEL_CARD.md (an interim bundle): the link ${href} is not followed`);
  }
}

async function runBackend(browser, origin, backend) {
  console.log(`\n# ${backend}`);
  const context = watchConsole(await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' }));
  const requests = [];
  firstVisitStart = served.length;
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer() }));
  const page = await context.newPage();
  // Every error and warning counts, but those this test provokes itself: the
  // damaged-cache check's, and Chromium's hint on the test reading the
  // heat-map canvas back again and again (canvasStats; the page never reads it).
  const consoleErrors = [];
  const provoked = /the kept copy of .* is damaged|Multiple readback operations using getImageData/;
  const listen = (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !provoked.test(m.text())) consoleErrors.push(`${m.type()}: ${m.text()}`);
  };
  // The inference worker's console too (wasm-bindgen warns there, for one).
  page.on('console', listen);
  page.on('worker', (worker) => worker.on('console', listen));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const url = `${origin}${BASE}?backend=${backend}`;

  // The first photo goes in as soon as the page can take it, before the model is ready.
  const nv = path.join(fixtures, 'ham10000/images/ISIC_0034282.jpg');
  const loadStart = Date.now();
  await page.goto(url);
  await page.waitForSelector('#photo-input', { state: 'attached', timeout: 120_000 });
  const readyBefore = !!(await page.$('[data-test=model-ready]'));
  await giveFile(page, nv);
  check(!readyBefore, 'the first photo is given before the model is ready');
  const waiting = await page.waitForSelector('[data-test=waiting]', { timeout: 10_000 }).catch(() => null);
  check(waiting || (await page.$('[data-test=summary]')), `the page says the photo waits for the model${waiting ? ': "' + (await waiting.textContent()).trim() + '"' : ''}`);
  check(await waitForModel(page), `model loads (${(await page.textContent('[data-test=model-status]')).trim()})`);
  const loadMs = Date.now() - loadStart;
  const ran = await page.getAttribute('[data-test=model-ready]', 'data-backend');
  check(backend === 'cpu' ? ran.startsWith('CPU') : ran === 'WebGPU', `runs on the expected backend: ${ran}`);
  let t = Date.now();
  await waitForResult(page, null, 300_000);
  check(true, 'the early photo is analysed once the model is ready');
  const earlyResultMs = Date.now() - t;

  // A photo given with the model ready.
  t = Date.now();
  await giveFile(page, nv);
  await page.waitForSelector('[data-test=busy]', { timeout: 10_000 }).catch(() => {});
  await waitForResult(page, null, 300_000);
  const firstResultMs = Date.now() - t;
  const timing = (await page.textContent('[data-test=timing]')).trim();
  console.log(`  time: page open to model ready ${loadMs} ms; early photo's result ${earlyResultMs} ms after; photo to result ${firstResultMs} ms (${timing})`);
  await resultChecks(page);
  await matchesCli(page, nv, backend);
  check(!(await page.$('[data-test=not-a-lesion]')), 'a lesion photo is not called "not a lesion"');
  await provenanceChecks(page, origin);

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
  await page.fill('[data-test=heat-opacity]', '0.6');
  await page.dispatchEvent('[data-test=heat-opacity]', 'input');
  await page.selectOption('[data-test=heat-class]', options[0]);

  if (backend === 'cpu') {
    await page.locator('[data-test=result]').screenshot({ path: path.join(out, 'desktop.png') });
    await reportChecks(page);
  }

  let previous = await page.textContent('[data-test=summary]');
  await giveFile(page, path.join(fixtures, 'e2e/blurred.png'));
  await waitForResult(page, '__never__', 300_000);
  await page.waitForSelector('[data-test=retake]', { timeout: 60_000 }).catch(() => {});
  const retake = await page.$('[data-test=retake]');
  check(retake, `a blurred photo asks for a retake${retake ? ': "' + (await retake.textContent()).trim() + '"' : ''}`);

  // Phone photos the model cannot judge: the retake request names the
  // problem and what to do (each message differs from the one before).
  for (const [file, said, what] of [
    ['e2e/dim.png', 'too dark', 'a photo taken in a dim room'],
    ['e2e/warm.png', 'strong colour', 'a photo under a warm lamp'],
    ['e2e/compressed.png', 'compressed', 'a photo sent through a messaging app'],
  ]) {
    await giveFile(page, path.join(fixtures, file));
    const text = await page
      .waitForFunction(
        (words) => {
          const r = document.querySelector('[data-test=retake]');
          const busy = document.querySelector('[data-test=busy], [data-test=waiting]');
          return !busy && r && r.textContent.toLowerCase().includes(words) ? r.textContent.trim() : false;
        },
        said,
        { timeout: 300_000 },
      )
      .then((h) => h.jsonValue())
      .catch(() => null);
    check(text, `${what} asks for a retake that says what to do${text ? ': "' + text + '"' : ''}`);
  }
  if (backend === 'cpu') await cropChecks(page);

  previous = await page.textContent('[data-test=summary]');
  await giveFile(page, path.join(fixtures, 'e2e/stripes.png'));
  await waitForResult(page, previous, 300_000);
  const unfamiliar = await page.$('[data-test=not-a-lesion]');
  check(unfamiliar, `a picture of stripes is called not a lesion${unfamiliar ? ': "' + (await unfamiliar.textContent()).trim() + '"' : ''}`);

  await giveFile(page, path.join(fixtures, 'e2e/corrupt.jpg'));
  await page.waitForSelector('[data-test=error]', { timeout: 60_000 }).catch(() => {});
  const error = await page.$('[data-test=error]');
  check(error, `a corrupt file gives an error${error ? ': "' + (await error.textContent()).trim() + '"' : ''}`);
  const second = path.join(fixtures, 'ham10000/images/ISIC_0031709.jpg');
  await giveFile(page, second);
  await waitForResult(page, null, 300_000);
  check(await page.$('[data-test=result]'), 'the page still works after the error');
  await matchesCli(page, second, backend);
  if (backend === 'cpu') await aboutChecks(page, second, backend);

  if (backend === 'cpu') {
    await weightsOnce(page, requests);
    await historyChecks(page, requests);
    await damagedCacheChecks(page, requests);
    await offlineChecks(page, context, nv);
    await updateChecks(page);
  }

  const origin_ = new URL(origin).origin;
  const foreign = requests.filter((r) => !r.url.startsWith(origin_) && !r.url.startsWith('data:') && !r.url.startsWith('blob:'));
  check(foreign.length === 0, `no request left the origin (${requests.length} requests${foreign.length ? '; e.g. ' + foreign[0].url : ''})`);
  const photoBytes = [nv, path.join(fixtures, 'e2e/blurred.png')].map((f) => fs.readFileSync(f).subarray(0, 64));
  const carrying = requests.filter((r) => r.method !== 'GET' || (r.body && r.body.length > 0) || photoBytes.some((p) => r.body && r.body.includes(p)));
  check(carrying.length === 0, 'no request carried a body (so no photo, no history): all are GETs');
  const spotInUrl = requests.filter((r) => decodeURIComponent(r.url).includes(SPOT));
  check(spotInUrl.length === 0, 'no request names the saved spot');
  check(consoleErrors.length === 0, `no errors or warnings on the console${consoleErrors.length ? ': ' + consoleErrors.slice(0, 3).join(' | ') : ''}`);
  await context.close();
  return { loadMs, earlyResultMs, firstResultMs, timing, requests: requests.length };
}

// "Download report": a PNG drawn in the page with the result in it.
async function reportChecks(page) {
  const summary = (await page.textContent('[data-test=summary]')).trim();
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('[data-test=report]')]);
  const file = path.join(out, 'report.png');
  await download.saveAs(file);
  const bytes = fs.readFileSync(file);
  const png = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = png ? bytes.readUInt32BE(16) : 0;
  const height = png ? bytes.readUInt32BE(20) : 0;
  check(png && bytes.length > 50_000, `"Download report" gives a PNG (${download.suggestedFilename()}, ${bytes.length} bytes, ${width} x ${height})`);
  const lines = JSON.parse((await page.getAttribute('[data-test=report]', 'data-report-lines')) || '[]');
  const drawn = lines.join(' ');
  check(drawn.includes(summary), 'the report shows the summary');
  check(drawn.includes((await page.textContent('[data-test=advice]')).trim()), 'the report shows the advice');
  check(/This is not a diagnosis/.test(drawn), 'the report has the not-a-diagnosis note');
  console.log(lines.filter((l) => /Model/.test(l)));
  check(/Model: dermlens, \d+ networks? \(EfficientNet-Lite0\), id [0-9a-f]{12}, bundle format \d+; app version/.test(drawn), "the report names the model and its version");
  check(/Result of .*\d{4}/.test(drawn), 'the report is dated');
  const names = await page.$$eval('[data-test=class-row] .name', (els) => els.map((e) => e.firstChild.textContent.trim()));
  check(names.every((n) => drawn.includes(n)), 'the report has every class');
  if (manifest().members.length > 1) {
    check(lines.filter((l) => /networks give/.test(l)).length === 7, 'the report has every class with its range over the networks');
  }

  // Printing (the browser's "Save as PDF") gives the same content.
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => ({
    input: document.querySelector('#input-heading').getClientRects().length,
    buttons: document.querySelector('[data-test=report]').getClientRects().length,
    extras: Array.from(document.querySelectorAll('.print-only')).map((e) => getComputedStyle(e).display !== 'none' ? e.textContent : '').join(' '),
    heat: getComputedStyle(document.querySelector('[data-test=heatmap]')).display,
  }));
  check(printed.input === 0 && printed.buttons === 0, 'the print layout leaves out the photo input and the buttons');
  check(printed.heat !== 'none' && /Result of/.test(printed.extras) && /Model: dermlens/.test(printed.extras) && /not a diagnosis/.test(printed.extras),
    'the print layout has the heat map, the date, the model and the not-a-diagnosis note');
  const pdf = await page.pdf({ path: path.join(out, 'report.pdf'), printBackground: true });
  check(pdf.length > 50_000, `"Save as PDF" gives a PDF (${pdf.length} bytes)`);
  await page.emulateMedia({ media: 'screen' });
}

// The weights came once: the worker's download is the only one.
async function weightsOnce(page, requests) {
  const files = weightFiles().map((f) => f.file);
  const counts = files.map((f) => requests.filter((r) => r.url.endsWith('/model/' + f)).length);
  check(counts.every((n) => n === 1), `each weight file was downloaded once on the first visit (${counts.join(', ')})`);
  await until(page, async () => (await caches.keys()).some((k) => k.startsWith('dermlens-app-')), 120_000);
  const visit = served.slice(firstVisitStart);
  const wasm = visit.filter((r) => r.path.endsWith('/worker_bg.wasm')).length;
  // What a first visit downloads: each file once (a normal profile's service
  // worker install takes the HTTP cache's copy, see below), as sent.
  const first = new Map();
  for (const r of visit) if (!first.has(r.path)) first.set(r.path, r);
  const total = [...first.values()].reduce((s, r) => s + r.bytes, 0);
  const encodings = [...new Set([...first.values()].map((r) => r.encoding).filter(Boolean))];
  check(total <= 12e6, `the first visit downloads ${mb(total)} (${first.size} files; precompressed: ${encodings.join(', ') || 'none'}), within the 12 MB budget`);
  // The same files from a host that has gzip copies only (nginx's
  // gzip_static without the Brotli module).
  const gzipOnly = [...first.values()]
    .reduce((s, r) => s + fs.statSync(fs.existsSync(r.file + '.gz') ? r.file + '.gz' : r.file).size, 0);
  check(gzipOnly <= 12e6, `from a host with gzip copies only, the first visit would download ${mb(gzipOnly)}, within the 12 MB budget`);
  // The install asks for the HTTP cache's copy. A normal browser profile has
  // it (measured: sent once); this test's incognito contexts keep no copy
  // of a file this large, so here it is sent twice.
  console.log(`  note the server sent the worker's code ${wasm} time(s) on the first visit (page, then the service worker's install)`);
  await until(page, async () => (await caches.keys()).some((k) => k.startsWith('dermlens-app-')), 120_000);
  const caches = await page.evaluate(async () => caches.keys());
  check(caches.some((k) => k.startsWith('dermlens-model-')) && caches.some((k) => k.startsWith('dermlens-app-')), `versioned caches: ${caches.join(', ')}`);
}

async function historyChecks(page, requests) {
  console.log('  ## the spot history');
  check(await page.$('[data-test=history-enable]'), 'the history is off until turned on');
  check(!(await page.evaluate(async () => (await indexedDB.databases()).some((d) => d.name === 'dermlens-history'))), 'nothing is stored before the opt-in');
  const where = await page.textContent('[data-test=history-where]');
  check(/only in this browser, on this device/.test(where), `it says where the history is kept: "${where.slice(0, 80)}…"`);
  await page.click('[data-test=history-enable]');
  await page.waitForSelector('[data-test=history-empty]');
  // Two photos of one spot.
  for (const [i, image] of ['ISIC_0031709', 'ISIC_0034282'].entries()) {
    if (i > 0) {
      await giveFile(page, path.join(fixtures, `ham10000/images/${image}.jpg`));
      await page.waitForSelector('[data-test=busy]', { timeout: 10_000 }).catch(() => {});
      await waitForResult(page, null, 300_000);
    }
    await saveToSpot(page);
    await page.waitForFunction((n) => document.querySelectorAll('[data-test=history-entry]').length === n, i + 1, { timeout: 10_000 });
  }
  check(true, 'two results saved to one spot');
  await page.reload();
  await waitForModel(page);
  await page.waitForSelector('[data-test=history-entry]', { timeout: 30_000 }).catch(() => {});
  const entries = await page.$$('[data-test=history-entry]');
  check(entries.length === 2, `after a reload the spot has its two results (${entries.length})`);
  const rows = await page.$$eval('[data-test=compare-row]', (els) => els.length);
  const malignantRow = await page.$('[data-test=compare-malignant]');
  check(rows === 7 && malignantRow, `the comparison shows every class and the malignant share (${rows} rows)`);
  const change = await page.$$eval('[data-test=compare-table] tbody tr td:last-child', (els) => els.map((e) => e.textContent));
  check(change.every((c) => /^([+−]\d+ points|no change)$/.test(c)), `changes are given in points (${change.slice(0, 3).join(', ')}…)`);
  check((await page.$$('[data-test=compare] img')).length >= 2, 'the two photos are side by side');
  await page.locator('[data-test=history]').screenshot({ path: path.join(out, 'compare.png') });

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=history-export]')]);
  const exportFile = path.join(out, 'history.json');
  await download.saveAs(exportFile);
  const exported = JSON.parse(fs.readFileSync(exportFile, 'utf8'));
  check(exported.format === 'dermlens-history' && exported.entries.length === 2 && exported.entries.every((e) => e.spot === SPOT && e.photo.startsWith('data:image/jpeg')),
    `the export is one JSON file with both results and their photos (${fs.statSync(exportFile).size} bytes)`);

  await page.click('[data-test=history-delete]');
  await page.click('[data-test=history-delete-confirm]');
  await page.waitForSelector('[data-test=history-enable]');
  const left = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  check(!left.includes('dermlens-history') && (await page.$$('[data-test=history-entry]')).length === 0, `"Delete everything" leaves nothing (databases: [${left.join(', ')}])`);
  await page.reload();
  await waitForModel(page);
  check(await page.$('[data-test=history-enable]'), 'after a reload the history is still off and empty');

  // The export file brings it all back.
  await page.click('[data-test=history-enable]');
  await page.setInputFiles('[data-test=history-import]', exportFile);
  await page.waitForFunction(() => document.querySelectorAll('[data-test=history-entry]').length === 2, null, { timeout: 10_000 }).catch(() => {});
  check((await page.$$('[data-test=history-entry]')).length === 2, 'importing the export restores both results');
  // An imported result whose id a stored one holds is added beside it, never over it.
  const clash = { ...exported, entries: [{ ...exported.entries[0], spot: 'other arm', malignant: 0.5 }] };
  const clashFile = path.join(out, 'history-clash.json');
  fs.writeFileSync(clashFile, JSON.stringify(clash));
  await page.setInputFiles('[data-test=history-import]', exportFile);
  await page.setInputFiles('[data-test=history-import]', clashFile);
  const stored = await until(page, async () => {
    const db = await new Promise((ok, no) => { const r = indexedDB.open('dermlens-history'); r.onsuccess = () => ok(r.result); r.onerror = no; });
    const all = await new Promise((ok, no) => { const r = db.transaction('entries').objectStore('entries').getAll(); r.onsuccess = () => ok(r.result); r.onerror = no; });
    db.close();
    return all.length >= 3 ? all.map((e) => e.spot) : false;
  }, 10_000);
  check(stored && stored.length === 3 && stored.filter((s) => s === SPOT).length === 2, `importing twice adds nothing, and a clashing id replaces nothing (${JSON.stringify(stored)})`);
  // A file far too large for a history is refused before it is read.
  const huge = path.join(out, 'history-huge.json');
  fs.writeFileSync(huge, Buffer.alloc(101_000_000, 32));
  await page.setInputFiles('[data-test=history-import]', huge);
  const refusal = await page
    .waitForFunction(() => { const n = document.querySelector('[data-test=history-notice]'); return n && /larger than/.test(n.textContent) ? n.textContent.trim() : false; }, null, { timeout: 30_000 })
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(refusal, `a 101 MB file is refused as a history${refusal ? ': "' + refusal + '"' : ''}`);
  fs.rmSync(huge);
  await page.click('[data-test=history-delete]');
  await page.click('[data-test=history-delete-confirm]');
  await page.waitForSelector('[data-test=history-enable]');
  const body = requests.filter((r) => r.body && r.body.length > 0);
  check(body.length === 0, 'the history never left the page (no request with a body)');
}

// A cached weight file damaged on disk is fetched again, not fatal.
async function damagedCacheChecks(page, requests) {
  const victim = weightFiles()[weightFiles().length - 1];
  await page.evaluate(async (file) => {
    const name = (await caches.keys()).find((k) => k.startsWith('dermlens-model-'));
    const cache = await caches.open(name);
    const key = (await cache.keys()).find((r) => r.url.endsWith('/model/' + file));
    await cache.put(key, new Response(new Uint8Array(1000).fill(7)));
  }, victim.file);
  const before = requests.filter((r) => r.url.endsWith('/model/' + victim.file)).length;
  await page.reload();
  check(await waitForModel(page), 'with a damaged cached weight file the model still loads');
  const after = requests.filter((r) => r.url.endsWith('/model/' + victim.file)).length;
  const repaired = await page.evaluate(async (file) => {
    const name = (await caches.keys()).find((k) => k.startsWith('dermlens-model-'));
    const cache = await caches.open(name);
    const hit = await cache.match('model/' + file);
    if (!hit) return null;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await hit.arrayBuffer()));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }, victim.file);
  check(after === before + 1 && repaired === victim.sha256, `the damaged file was fetched once more and the cache repaired (${after - before} request(s))`);
  const others = weightFiles().filter((f) => f.file !== victim.file).map((f) => requests.filter((r) => r.url.endsWith('/model/' + f.file)).length);
  check(others.every((n) => n === 1), 'the intact weight files came from the cache');
}

async function offlineChecks(page, context, nv) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cached = await until(page, async () => {
    const name = (await caches.keys()).find((k) => k.startsWith('dermlens-app-'));
    return name && (await (await caches.open(name)).keys()).length >= 14;
  }, 120_000);
  check(cached, 'the service worker has cached the app for offline use');
  await context.setOffline(true);
  await page.reload();
  check(await waitForModel(page), 'offline: the page and model load from the caches');
  await giveFile(page, nv);
  await waitForResult(page, null, 300_000);
  check(await page.$('[data-test=result]'), 'offline: a photo is analysed');
  await context.setOffline(false);
}

// A spot small in the frame: the page offers a crop at once, and the part
// chosen is judged like the close-up it came from.
async function cropChecks(page) {
  // Any result can be cropped: the button opens the panel and moves the focus there.
  await page.click('[data-test=crop-open]');
  const focused = await page.waitForFunction(() => document.activeElement && document.activeElement.dataset.test === 'crop-photo', null, { timeout: 5_000 }).then(() => true).catch(() => false);
  check(focused, '"Crop the photo" opens the crop panel with the focus on the photo');
  await page.click('[data-test=crop-close]');
  check(!(await page.$('[data-test=crop]')), '"Close" closes it');

  await giveFile(page, path.join(fixtures, 'e2e/far.png'));
  const text = await page
    .waitForFunction(() => {
      const r = document.querySelector('[data-test=retake]');
      const busy = document.querySelector('[data-test=busy], [data-test=waiting]');
      return !busy && r && /small/.test(r.textContent) ? r.textContent.trim() : false;
    }, null, { timeout: 300_000 })
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(text, `a spot small in the frame asks to come closer or crop${text ? ': "' + text + '"' : ''}`);
  check(await page.$('[data-test=crop] [data-test=crop-photo]'), 'and the crop panel is open at once');
  const shownNow = () => page.$$eval('[data-test=class-row]', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.code, parseFloat(e.querySelector('[data-test=probability]').dataset.value)])));
  const far = await shownNow();
  // The person makes the square 40% of the photo's height and taps the spot (mid-photo).
  await page.$eval('[data-test=crop-size]', (e) => { e.value = '0.4'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('[data-test=crop-photo]');
  await page.locator('[data-test=crop]').screenshot({ path: path.join(out, 'crop.png') });
  await page.click('[data-test=crop-analyse]');
  const busy = await page
    .waitForFunction(() => { const b = document.querySelector('[data-test=busy]'); return b ? b.textContent : false; }, null, { timeout: 10_000, polling: 20 })
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(busy && busy.includes('far.png (cropped)'), `the part is analysed under a name that says so (${busy})`);
  await waitForResult(page, '__never__', 300_000);
  const retake = await page.$('[data-test=retake]');
  const said = retake ? (await retake.textContent()).trim() : '';
  check(!/small/.test(said), `the cropped part is not called small in the frame${said ? ' (it says: "' + said + '")' : ''}`);
  const cropped = await shownNow();
  const original = cliProbabilities(path.join(fixtures, 'ham10000/images/ISIC_0027343.jpg'));
  if (original) {
    const distance = (shown) => Math.max(...Object.keys(original).map((c) => Math.abs((shown[c] ?? Infinity) - original[c])));
    const [before, after] = [distance(far), distance(cropped)];
    check(after < before, `the cropped part is judged more like the close-up it was made from than the whole photo (largest difference ${after.toFixed(3)}, uncropped ${before.toFixed(3)})`);
  }
}

// A new deployment is noticed and offered; old weights are removed.
async function updateChecks(page) {
  const bootFile = path.join(dist, 'boot.js');
  const original = fs.readFileSync(bootFile);
  const marker = `// e2e update ${Date.now()}`;
  try {
    await page.evaluate(async () => {
      const cache = await caches.open('dermlens-model-0ld');
      await cache.put('model/old-weights.bin', new Response(new Uint8Array(10)));
    });
    fs.writeFileSync(bootFile, Buffer.concat([original, Buffer.from('\n' + marker + '\n')]));
    await page.evaluate(() => navigator.serviceWorker.controller.postMessage({ type: 'dermlens-check-update', force: true }));
    const banner = await page.waitForSelector('[data-test=update]', { timeout: 120_000 }).catch(() => null);
    check(banner, `a new version is announced${banner ? ': "' + (await banner.textContent()).trim() + '"' : ''}`);
    if (!banner) return;
    await Promise.all([page.waitForNavigation(), page.click('[data-test=update-reload]')]);
    check(await waitForModel(page), 'after the reload the new version runs');
    const served = await page.evaluate(async () => (await fetch('boot.js')).text());
    check(served.includes(marker), 'the reloaded page has the new files');
    const keys = await page.evaluate(async () => caches.keys());
    check(keys.filter((k) => k.startsWith('dermlens-app-')).length === 1, `only the new app cache is left (${keys.join(', ')})`);
    check(!keys.includes('dermlens-model-0ld'), 'old cached weights were removed');
  } finally {
    fs.writeFileSync(bootFile, original);
  }
}

// Without ?backend=, the app uses WebGPU only on a hardware adapter: on a
// software one (SwiftShader here) the CPU backend is far faster.
async function automaticChoice(browser, origin) {
  const context = watchConsole(await browser.newContext());
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}`);
  const adapter = await page.evaluate(async () => {
    if (!navigator.gpu) return null;
    const a = await navigator.gpu.requestAdapter();
    if (!a) return null;
    const info = a.info || {};
    return { fallback: info.isFallbackAdapter === true || a.isFallbackAdapter === true, text: [info.vendor, info.architecture, info.device, info.description].join(' ') };
  });
  await waitForModel(page);
  const ran = await page.getAttribute('[data-test=model-ready]', 'data-backend');
  const software = !adapter || adapter.fallback || /swiftshader|llvmpipe|lavapipe|software/i.test(adapter.text);
  const described = adapter ? `adapter "${adapter.text.trim()}"${adapter.fallback ? ', fallback' : ''}` : 'no WebGPU adapter';
  check(software ? ran && ran.startsWith('CPU') : ran === 'WebGPU', `the automatic choice fits the hardware (${described}): ${ran}`);
  await context.close();
}

// German from the browser's language, English from the switch, remembered.
async function languages(browser, origin) {
  console.log('\n# languages');
  const context = watchConsole(await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 900 } }));
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}?backend=cpu`);
  await waitForModel(page);
  check((await page.getAttribute('html', 'lang')) === 'de', 'a German browser gets the page in German (lang="de")');
  check((await page.textContent('#input-heading')).trim() === 'Ihr Foto', 'the headings are German');
  await giveFile(page, path.join(fixtures, 'ham10000/images/ISIC_0031709.jpg'));
  await waitForResult(page, null, 300_000);
  const summary = await page.textContent('[data-test=summary]');
  check(/^Am ähnlichsten .*bösartigen Art: (unter 1 %|über 99 %|\d+ %)\.$/.test(summary.trim()), `the summary is German: "${summary}"`);
  const percents = await page.$$eval('[data-test=probability]', (els) => els.map((e) => e.textContent.trim()));
  check(percents.every((p) => /^(unter 1 %|über 99 %|[1-9][0-9]? %)$/.test(p)), `German percents (${percents.join(', ')})`);
  const text = await page.textContent('body');
  check(!text.includes('⟦'), 'no text is missing from the German table');
  await page.selectOption('[data-test=language]', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const english = await page.textContent('[data-test=summary]');
  check(/^Most similar to /.test(english.trim()), `the switch rewords the page in English: "${english}"`);
  await page.reload();
  await waitForModel(page);
  check((await page.getAttribute('html', 'lang')) === 'en', 'the chosen language is remembered');
  await context.close();
}

// Saves the result on screen to the test's spot.
async function saveToSpot(page) {
  await page.fill('[data-test=spot-name]', SPOT);
  await page.click('[data-test=save-spot]');
  await page.waitForSelector('[data-test=saved]');
}

// Saves two results of one spot, for the pages that show the comparison.
async function twoSavedResults(page) {
  await page.click('[data-test=history-enable]');
  for (const image of ['ISIC_0031709', 'ISIC_0034282']) {
    await giveFile(page, path.join(fixtures, `ham10000/images/${image}.jpg`));
    await page.waitForSelector('[data-test=busy]', { timeout: 10_000 }).catch(() => {});
    await waitForResult(page, null, 300_000);
    await saveToSpot(page);
  }
  await page.waitForSelector('[data-test=compare-table]', { timeout: 10_000 });
}

async function overflowCheck(page, where) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= PHONE_WIDTH, `nothing overflows a ${PHONE_WIDTH} px phone screen ${where} (scrollWidth ${width})`);
}

async function phone(browser, origin) {
  console.log('\n# phone');
  const context = watchConsole(await browser.newContext({ viewport: { width: PHONE_WIDTH, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-GB' }));
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}?backend=cpu`);
  await waitForModel(page);
  await overflowCheck(page, 'before a result');
  await giveFile(page, path.join(fixtures, 'ham10000/images/ISIC_0031709.jpg'));
  await waitForResult(page, null, 300_000);
  await overflowCheck(page, 'with a result');
  await page.evaluate(() => document.querySelector('[data-test=result]').scrollIntoView());
  await page.screenshot({ path: path.join(out, 'phone.png') });
  await twoSavedResults(page);
  await overflowCheck(page, 'with the spot comparison');
  await page.selectOption('[data-test=language]', 'de');
  await overflowCheck(page, 'in German');
  await page.click('[data-test=history-delete]');
  await page.click('[data-test=history-delete-confirm]');
  await context.close();
}

async function audit(page, label) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: v.nodes[0] && v.nodes[0].target.join(' ') }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !serious.includes(v));
  check(serious.length === 0, `accessibility (axe-core) ${label}: no serious or critical violation${serious.length ? ': ' + serious.map((v) => `${v.id} (${v.impact}, ${v.nodes}x, ${v.target})`).join('; ') : ''}`);
  if (minor.length) console.log(`  note minor axe findings ${label}: ${minor.map((v) => `${v.id} (${v.impact})`).join(', ')}`);
}

// Dark mode and the accessibility audit, light and dark, with a result and a comparison.
async function darkAndAudit(browser, origin) {
  console.log('\n# dark mode and accessibility');
  for (const scheme of ['light', 'dark']) {
    // axe is injected as a script of its own: only this context lifts the page's CSP for it.
    const context = watchConsole(await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme, bypassCSP: true, locale: 'en-GB' }));
    const page = await context.newPage();
    await page.goto(`${origin}${BASE}?backend=cpu`);
    await waitForModel(page);
    await audit(page, `(${scheme}, before a result)`);
    await twoSavedResults(page);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    if (scheme === 'dark') {
      check(luminance < 0.2, `dark mode follows prefers-color-scheme (background ${background})`);
      await page.evaluate(() => document.querySelector('[data-test=result]').scrollIntoView());
      await page.screenshot({ path: path.join(out, 'dark.png') });
    } else {
      check(luminance > 0.8, `light mode by default (background ${background})`);
    }
    await audit(page, `(${scheme}, with a result and a comparison)`);
    await context.close();
  }
}

// A damaged download: one weight file cut in half on the way.
async function truncatedModel(browser, origin) {
  const context = watchConsole(await browser.newContext({ serviceWorkers: 'block' }));
  await context.route(/\/model\/member-0-[0-9a-f]+\.bin$/, async (route) => {
    const response = await route.fetch();
    const body = await response.body();
    await route.fulfill({ response, body: body.subarray(0, body.length >> 1) });
  });
  const page = await context.newPage();
  await page.goto(`${origin}${BASE}?backend=cpu`);
  await waitForModel(page);
  const error = await page.$('[data-test=model-error]');
  check(error, `a truncated model file gives a clear error${error ? ': "' + (await error.textContent()).trim() + '"' : ''}`);
  await context.close();
}

// A server (or a proxy) sending more than the bundle declares: the worker
// stops reading at the declared size instead of holding whatever comes.
async function oversizedDownloads(browser, origin) {
  for (const [pattern, grow, what] of [
    [/\/model\/manifest\.json$/, (body) => Buffer.concat([body, Buffer.alloc(2_000_000, 32)]), 'a 2 MB manifest'],
    [/\/model\/member-0-[0-9a-f]+\.bin$/, (body) => Buffer.concat([body, body]), 'a weight file twice its declared size'],
  ]) {
    const context = watchConsole(await browser.newContext({ serviceWorkers: 'block' }));
    await context.route(pattern, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: grow(await response.body()) });
    });
    const page = await context.newPage();
    await page.goto(`${origin}${BASE}?backend=cpu`);
    await waitForModel(page);
    const error = await page.$('[data-test=model-error]');
    const text = error ? (await error.textContent()).trim() : '';
    check(/larger than/.test(text), `${what} is refused at its size${text ? ': "' + text + '"' : ''}`);
    await context.close();
  }
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
  const started = Date.now();
  try {
    for (const backend of ['webgpu', 'cpu']) {
      if (!only || only === backend) results[backend] = await runBackend(browser, origin, backend);
    }
    if (!only || only === 'cpu') {
      await automaticChoice(browser, origin);
      await languages(browser, origin);
      await phone(browser, origin);
      await darkAndAudit(browser, origin);
      await truncatedModel(browser, origin);
      await oversizedDownloads(browser, origin);
    }
  } finally {
    await browser.close();
    server.close();
  }
  fs.writeFileSync(path.join(out, 'figures.json'), JSON.stringify({ sizes: figures, results }, null, 2));
  console.log(`\nscreenshots and figures in ${out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
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
