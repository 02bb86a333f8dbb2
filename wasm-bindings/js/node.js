// Node entry of imps-engine: the wasm is compiled and instantiated on import (synchronously,
// from the file next to this one), so everything exported is usable at once. Node loads its
// own build of the module, optimised for speed rather than size (`imps_wasm_node.wasm`; the
// browser entry loads `imps_wasm_bg.wasm`), driven by the same glue.
import { readFileSync } from 'node:fs';
import { initSync, installPanicHook } from './imps_wasm.js';

initSync({ module: readFileSync(new URL('./imps_wasm_node.wasm', import.meta.url)) });
installPanicHook();

export * from './core.js';

/** Initialises the module; in Node it is done on import already, so this only resolves. */
export async function initAsync() {}
