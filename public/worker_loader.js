// Starts the inference worker (trunk writes worker.js and worker_bg.wasm):
// wasm-bindgen's initialiser takes its options as one object.
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' });
