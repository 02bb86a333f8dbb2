// Browser and worker entry of imps-engine: the wasm is fetched (streaming compile) from next
// to this file on import, through top-level await; `initAsync()` is the same, idempotent.
import init, { installPanicHook } from './imps_wasm.js';

let started;

/** Initialises the module (done on import; calling it again returns the same promise). */
export function initAsync() {
  started ??= init({ module_or_path: new URL('./imps_wasm_bg.wasm', import.meta.url) }).then(() => {
    installPanicHook();
  });
  return started;
}

await initAsync();

export * from './core.js';
