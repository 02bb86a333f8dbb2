//! Fuzz bytes → a sequence of operations driving one `Server` (see `../driver.rs`).
#![no_main]

#[path = "../check.rs"]
mod check;
#[path = "../driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    driver::run(data);
});
