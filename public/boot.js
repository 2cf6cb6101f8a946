// Starts the page's WebAssembly. A file rather than an inline script, so
// the Content-Security-Policy can forbid inline scripts altogether.
import init from './app.js';

init({ module_or_path: new URL('./app_bg.wasm', import.meta.url) }).catch((error) => {
  const root = document.getElementById('app');
  if (root) {
    root.textContent = 'dermlens could not start in this browser: ' + error;
  }
});
