//! `imps-wasm`: the IMPS engine for JavaScript hosts (browsers, Node, workers), through
//! wasm-bindgen. A thin start: the typed driving surface arrives with the npm package issue.
//! It builds natively too, so the workspace's tests cover it.

use wasm_bindgen::prelude::wasm_bindgen;

/// The version of this crate (and of the engine it carries).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(super::version(), env!("CARGO_PKG_VERSION"));
        assert!(!super::version().is_empty());
    }
}
