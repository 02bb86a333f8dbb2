//! The global allocators: [`Allocator`] (mimalloc) for the native `imps` binary and the
//! engine's benchmarks, and [`pooled::Pooled`] (size-class free lists in front of another
//! allocator) for the single-threaded wasm guest.
//!
//! The engine allocates per message (its typed model owns its strings), so the allocator's
//! fast path is part of every request. The `mimalloc` crate sends every request through
//! mimalloc's aligned entry points, which check the alignment before allocating; nearly all
//! of the engine's requests need no more than the word alignment every mimalloc block has,
//! and those go straight to `mi_malloc` / `mi_realloc` here (about 3% fewer instructions per
//! message in the IM benchmark).
#![no_std]
// The one place in the workspace that implements an allocator, which Rust only allows
// through an `unsafe` trait.
#![allow(unsafe_code)]

pub mod mem;
pub mod pooled;

#[cfg(not(target_family = "wasm"))]
pub use native::Allocator;

#[cfg(not(target_family = "wasm"))]
mod native {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ffi::c_void;

    use libmimalloc_sys as mi;

    /// Every block mimalloc hands out is aligned to at least a machine word (its size classes
    /// are whole words).
    const WORD: usize = core::mem::size_of::<usize>();

    /// mimalloc as the global allocator (`#[global_allocator] static A: imps_alloc::Allocator =
    /// imps_alloc::Allocator;`).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Allocator;

    // SAFETY: every block comes from mimalloc and goes back to it; a layout whose alignment is
    // larger than a word goes through mimalloc's aligned functions, which honour it, and every
    // other one is served by the plain functions, whose blocks are word-aligned.
    unsafe impl GlobalAlloc for Allocator {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: mimalloc's allocation functions accept any size.
            unsafe {
                if layout.align() <= WORD {
                    mi::mi_malloc(layout.size()).cast()
                } else {
                    mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
                }
            }
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            unsafe {
                if layout.align() <= WORD {
                    mi::mi_zalloc(layout.size()).cast()
                } else {
                    mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
                }
            }
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            // SAFETY: `ptr` came from this allocator, so from mimalloc.
            unsafe { mi::mi_free(ptr.cast::<c_void>()) }
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: `ptr` came from this allocator with `layout`; the block keeps its alignment.
            unsafe {
                if layout.align() <= WORD {
                    mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
                } else {
                    mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        extern crate std;
        use super::*;
        use std::vec::Vec;

        #[test]
        fn blocks_have_the_alignment_asked_for_and_keep_their_bytes() {
            let a = Allocator;
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                for size in [1, 7, 8, 24, 100, 1000, 70_000] {
                    let layout = Layout::from_size_align(size, align)
                        .unwrap_or_else(|_| Layout::new::<u8>());
                    // SAFETY: a non-zero size; freed with the same layout below.
                    unsafe {
                        let p = a.alloc(layout);
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size} align {align}");
                        p.write_bytes(0xAB, size);
                        let q = a.realloc(p, layout, size * 3);
                        assert_eq!(q as usize % align, 0, "realloc: size {size} align {align}");
                        let bytes: Vec<u8> = core::slice::from_raw_parts(q, size).to_vec();
                        assert!(bytes.iter().all(|b| *b == 0xAB));
                        a.dealloc(
                            q,
                            Layout::from_size_align(size * 3, align).unwrap_or(layout),
                        );
                        let z = a.alloc_zeroed(layout);
                        assert_eq!(z as usize % align, 0);
                        assert!(core::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                        a.dealloc(z, layout);
                    }
                }
            }
        }
    }
}
