// Trunk post-build step: writes a Brotli (.br) and a gzip (.gz) copy next
// to every text, wasm and weight file of the site, for hosts that serve
// precompressed files (nginx `brotli_static`/`gzip_static`, Caddy
// `file_server { precompressed br gzip }`, and the end-to-end test's server).
// Brotli at its highest quality shrinks the worker's wasm by 40% more than
// gzip. The int8 weight files shrink by 8.6% (Brotli) or 8.1% (gzip), 0.6
// MB of the first visit; the worker counts and checks the bytes it receives
// decoded, against the manifest's sizes and hashes, so either copy is fine.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const COMPRESSIBLE = new Set(['.wasm', '.bin', '.js', '.css', '.html', '.json', '.md', '.svg', '.webmanifest']);
// Brotli's top quality took 5 s per 3.7 MB weight file, on every build, to
// save 28 KB over quality 9 (0.1 s): the weights are near-random bytes.
const brotliQuality = (file) => (path.extname(file) === '.bin' ? 9 : zlib.constants.BROTLI_MAX_QUALITY);

const dir = process.env.TRUNK_STAGING_DIR || process.argv[2] || 'dist';
const files = fs.readdirSync(dir, { recursive: true })
  .map((f) => path.join(dir, f))
  .filter((f) => COMPRESSIBLE.has(path.extname(f)) && fs.statSync(f).isFile());
for (const file of files) {
  const raw = fs.readFileSync(file);
  const br = zlib.brotliCompressSync(raw, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: brotliQuality(file),
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const gz = zlib.gzipSync(raw, { level: 9 });
  // A copy no smaller than the file is no use to anyone.
  for (const [ext, bytes] of [['.br', br], ['.gz', gz]]) {
    if (bytes.length < raw.length) fs.writeFileSync(file + ext, bytes);
  }
  if (raw.length > 100_000) {
    console.log(`${path.relative(dir, file)}: ${raw.length} bytes, brotli ${br.length}, gzip ${gz.length}`);
  }
}
