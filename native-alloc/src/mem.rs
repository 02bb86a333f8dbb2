//! `memcmp` and `bcmp` for wasm32, faster than compiler_builtins' byte-at-a-time ones, which
//! took about 4% of the guest's time (every string key comparison of the engine's maps ends
//! there), and `bcmp` 15% once the rest got faster: on wasm32 LLVM does not expand a
//! comparison with a constant string inline as it does natively, so every string `match` arm
//! calls it. Strong symbols, so they replace the weak builtins at link time in any module
//! that links this crate. (Native builds keep them as plain functions, for the tests.)

/// 8 bytes at `p + i`.
///
/// # Safety
/// `p` must be readable for `i + 8` bytes.
#[inline(always)]
unsafe fn word(p: *const u8, i: usize) -> u64 {
    // SAFETY: the caller's contract; unaligned reads are fine in wasm.
    unsafe { p.add(i).cast::<u64>().read_unaligned() }
}

/// The sign of the first differing byte of two little-endian words that differ.
#[inline(always)]
fn order(x: u64, y: u64) -> i32 {
    // Little-endian: the first differing byte is the lowest differing one.
    let shift = (x ^ y).trailing_zeros() & !7;
    i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8)
}

/// Compares `n` bytes at `a` and `b` as unsigned bytes, 8 at a time; the last word read
/// overlaps the one before it rather than finishing byte by byte (the bytes it reads
/// again are equal, so the first difference it sees is the first one).
///
/// # Safety
/// `a` and `b` must be readable for `n` bytes (the C `memcmp` contract).
#[cfg_attr(target_family = "wasm", unsafe(no_mangle))]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n < 8 {
        // SAFETY: the same contract.
        return unsafe { short(a, b, n, true) };
    }
    let mut i = 0;
    // SAFETY: every word read ends at or before n.
    unsafe {
        while i + 8 < n {
            let (x, y) = (word(a, i), word(b, i));
            if x != y {
                return order(x, y);
            }
            i += 8;
        }
        let (x, y) = (word(a, n - 8), word(b, n - 8));
        if x != y { order(x, y) } else { 0 }
    }
}

/// `memcmp` of fewer than 8 bytes; with `ordered` false only zero/non-zero matters.
///
/// # Safety
/// As [`memcmp`].
#[inline(always)]
unsafe fn short(a: *const u8, b: *const u8, n: usize, ordered: bool) -> i32 {
    if !ordered && n >= 4 {
        // Two overlapping 4-byte reads cover 4 to 7 bytes.
        // SAFETY: 4 <= n, and both are readable for n bytes.
        let (x0, y0, x1, y1) = unsafe {
            (
                a.cast::<u32>().read_unaligned(),
                b.cast::<u32>().read_unaligned(),
                a.add(n - 4).cast::<u32>().read_unaligned(),
                b.add(n - 4).cast::<u32>().read_unaligned(),
            )
        };
        return i32::from((x0 ^ y0) | (x1 ^ y1) != 0);
    }
    let mut i = 0;
    while i < n {
        // SAFETY: i < n.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `memcmp` where only zero/non-zero matters (what `==` on slices compiles to: every
/// string `match` arm and map key equality), so no byte order is worked out.
///
/// # Safety
/// As [`memcmp`].
#[cfg_attr(target_family = "wasm", unsafe(no_mangle))]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n < 8 {
        // SAFETY: the same contract.
        return unsafe { short(a, b, n, false) };
    }
    let mut i = 0;
    // SAFETY: every word read ends at or before n.
    unsafe {
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return 1;
            }
            i += 8;
        }
        i32::from(word(a, n - 8) != word(b, n - 8))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn they_order_and_compare_as_slices_do() {
        let mut seed = 1u32;
        for n in 0..40 {
            for _ in 0..200 {
                let a: Vec<u8> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        // Few distinct bytes, so equal runs and late differences are common.
                        [0u8, 1, 0x7f, 0x80, 0xff][(seed >> 16) as usize % 5]
                    })
                    .collect();
                let mut b = a.clone();
                if n > 0 && !seed.is_multiple_of(4) {
                    let i = (seed >> 8) as usize % n;
                    b[i] = b[i].wrapping_add((seed >> 24) as u8 | 1);
                }
                // SAFETY: both are readable for n bytes.
                let (m, e) = unsafe {
                    (
                        super::memcmp(a.as_ptr(), b.as_ptr(), n),
                        super::bcmp(a.as_ptr(), b.as_ptr(), n),
                    )
                };
                assert_eq!(m.signum(), a.cmp(&b) as i32, "{a:?} {b:?}");
                assert_eq!(e != 0, a != b, "{a:?} {b:?}");
            }
        }
    }
}
