//! Fuzz bytes → a sequence of operations driving one `Server` (see `../driver.rs`).
#![no_main]

#[path = "../check.rs"]
#[allow(dead_code)] // the driver uses some checks only
mod check;
#[path = "../driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    driver::run(data);
});
