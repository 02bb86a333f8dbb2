//! Size-class free lists in front of another allocator, for the single-threaded wasm guest.
//!
//! The engine allocates and frees dozens of small blocks per request (its typed model owns
//! its strings). A general allocator such as talc searches and splits its free blocks for each
//! of them; here a freed small block goes on the free list of its size class and the next
//! request of that class takes it back in a few instructions. Small blocks are never handed
//! back to the inner allocator: each class keeps at most the most it ever had in use at once,
//! which for the engine is a bounded working set per request.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Width of a size class in bytes, and the alignment of every pooled block.
const GRAIN: usize = 16;
/// Number of classes: blocks of 16, 32, …, 512 bytes are pooled; larger ones are not.
const CLASSES: usize = 32;

/// The global allocator of imps's wasm modules (the guest `imps` runs, the npm package's
/// module): free lists in front of talc, which is faster and smaller than Rust's default
/// wasm32 allocator (dlmalloc). Growing linear memory past a host's cap fails the allocation.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub type Wasm = Pooled<talc::wasm::WasmDynamicTalc>;

/// A [`Wasm`] allocator, for `#[global_allocator] static A: Wasm = wasm();`.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub const fn wasm() -> Wasm {
    Pooled::new(talc::wasm::new_wasm_dynamic_allocator())
}

/// `inner` with free lists for blocks of up to 512 bytes aligned to at most 16.
///
/// Not thread-safe: it is `Sync` (so that it can be a `#[global_allocator]`) only on wasm
/// without the atomics feature, where there is one thread.
pub struct Pooled<A> {
    inner: A,
    /// The first free block of each class; each free block holds the address of the next.
    heads: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: wasm without the atomics feature has exactly one thread, so the free lists are
// never touched by two threads.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for Pooled<A> {}

impl<A> Pooled<A> {
    /// Pools in front of `inner`.
    pub const fn new(inner: A) -> Self {
        Pooled {
            inner,
            heads: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The class of `layout` (blocks of `(class + 1) * GRAIN` bytes), or `None` if it is not
/// pooled.
#[inline(always)]
fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size();
    if layout.align() > GRAIN || size == 0 {
        return None;
    }
    let class = (size - 1) / GRAIN;
    (class < CLASSES).then_some(class)
}

/// The layout asked of the inner allocator for a block of `class`.
#[inline(always)]
fn class_layout(class: usize) -> Layout {
    // (class + 1) * 16 ≤ 512 with a power-of-two alignment: always a valid layout.
    Layout::from_size_align((class + 1) * GRAIN, GRAIN).unwrap_or(Layout::new::<[u8; GRAIN]>())
}

// SAFETY: small blocks are taken from a free list (blocks this allocator handed out for the
// same class, so of the class's size and 16-aligned) or from the inner allocator with the
// class's layout; they are never returned to it, so no block is freed twice or with a
// mismatched layout. Other blocks go to and come from the inner allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Pooled<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(&layout) else {
            // SAFETY: the caller's layout, passed on.
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: one thread (see `Sync`), and no reference to `heads` outlives this call.
        let heads = unsafe { &mut *self.heads.get() };
        let Some(head) = heads.get_mut(class) else {
            return ptr::null_mut();
        };
        let block = *head;
        if block.is_null() {
            // SAFETY: a valid, non-zero layout.
            return unsafe { self.inner.alloc(class_layout(class)) };
        }
        // SAFETY: a free block of this class holds the address of the next one in its first
        // bytes (written by `dealloc`, 16-aligned so aligned for a pointer).
        *head = unsafe { block.cast::<*mut u8>().read() };
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(&layout) else {
            // SAFETY: a block the inner allocator gave for this layout.
            return unsafe { self.inner.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`.
        let heads = unsafe { &mut *self.heads.get() };
        if let Some(head) = heads.get_mut(class) {
            // SAFETY: the block is at least 16 bytes, 16-aligned, and no longer in use.
            unsafe { block.cast::<*mut u8>().write(*head) };
            *head = block;
        }
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class_of(&layout);
        // SAFETY: the caller guarantees `new_size` with the old alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = class_of(&new_layout);
        match (old, new) {
            // The block already has room.
            (Some(a), Some(b)) if a == b => block,
            // Neither is pooled: the inner allocator may grow the block in place.
            // SAFETY: a block of the inner allocator with its layout.
            (None, None) => unsafe { self.inner.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: a fresh block of the new layout, the old one's bytes copied (up to
                // the smaller size), then the old one freed with its layout.
                unsafe {
                    let fresh = self.alloc(new_layout);
                    if !fresh.is_null() {
                        ptr::copy_nonoverlapping(block, fresh, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    fresh
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::alloc::System;
    use std::vec::Vec;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap_or_else(|_| Layout::new::<u8>())
    }

    #[test]
    fn a_freed_small_block_is_reused_for_its_class_only() {
        let a = Pooled::new(System);
        // SAFETY: non-zero layouts; every block freed with the layout it was made with.
        unsafe {
            let p = a.alloc(layout(20, 8));
            a.dealloc(p, layout(20, 8));
            // 17..=32 bytes share a class: the block comes back.
            let q = a.alloc(layout(32, 1));
            assert_eq!(p, q);
            // Another class does not take it.
            a.dealloc(q, layout(32, 1));
            let r = a.alloc(layout(48, 8));
            assert_ne!(r, p);
            a.dealloc(r, layout(48, 8));
            // Large or over-aligned blocks are not pooled.
            let big = a.alloc(layout(4096, 8));
            let aligned = a.alloc(layout(16, 64));
            assert_eq!(aligned as usize % 64, 0);
            a.dealloc(big, layout(4096, 8));
            a.dealloc(aligned, layout(16, 64));
        }
    }

    #[test]
    fn blocks_keep_their_bytes_across_every_kind_of_realloc() {
        let a = Pooled::new(System);
        for (from, to) in [
            (5, 12),
            (12, 5),
            (10, 100),
            (100, 10),
            (300, 2000),
            (2000, 300),
            (3000, 9000),
            (600, 513),
        ] {
            let old = layout(from, 8);
            // SAFETY: as above.
            unsafe {
                let p = a.alloc(old);
                assert!(!p.is_null());
                for i in 0..from {
                    p.add(i).write(i as u8);
                }
                let q = a.realloc(p, old, to);
                assert_eq!(q as usize % 8, 0);
                let kept: Vec<u8> = core::slice::from_raw_parts(q, from.min(to)).to_vec();
                assert!(
                    kept.iter().enumerate().all(|(i, b)| *b == i as u8),
                    "{from} → {to}"
                );
                a.dealloc(q, layout(to, 8));
            }
        }
    }

    #[test]
    fn many_blocks_of_mixed_sizes_stay_distinct() {
        let a = Pooled::new(System);
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 7u32;
        for round in 0..20_000u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let size = 1 + (seed >> 8) as usize % 700;
            // SAFETY: as above; each live block is filled with its own tag and checked before
            // it is freed, so two live blocks sharing memory would be seen.
            unsafe {
                if seed.is_multiple_of(3) && !live.is_empty() {
                    let (p, l, tag) = live.swap_remove((seed >> 4) as usize % live.len());
                    assert!(
                        core::slice::from_raw_parts(p, l.size())
                            .iter()
                            .all(|b| *b == tag)
                    );
                    a.dealloc(p, l);
                } else {
                    let l = layout(size, 8);
                    let p = a.alloc(l);
                    let tag = round as u8;
                    p.write_bytes(tag, size);
                    live.push((p, l, tag));
                }
            }
        }
        for (p, l, tag) in live {
            // SAFETY: as above.
            unsafe {
                assert!(
                    core::slice::from_raw_parts(p, l.size())
                        .iter()
                        .all(|b| *b == tag)
                );
                a.dealloc(p, l);
            }
        }
    }
}
