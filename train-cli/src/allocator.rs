//! The process's memory allocator. Every tensor operation of burn's CPU
//! backend allocates its output afresh; with glibc's allocator each large
//! buffer is a new memory mapping, unmapped again when freed, so every
//! operation pays page faults and TLB shootdowns (a fifth of an inference
//! pass in a profile). mimalloc keeps freed memory for reuse: one member's
//! forward pass at 224 px went from about 26 to 17 ms per image.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (the Rust bindings
/// do not name it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory in the process instead of returning it to the OS
/// after mimalloc's default of one second. Training frees and reallocates
/// buffers of tens of megabytes every step (1.5 s for 32 images at 160 px),
/// more slowly than that delay, and
/// otherwise pays the page faults again (a whole-network step at 160 px:
/// about 55 ms per image with purging, 48 without). The process's peak
/// memory is unchanged; it is only not given back before exit.
pub fn keep_freed_memory() {
    // SAFETY: sets one integer option; mimalloc's options are atomics and
    // may be set at any time, from any thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
    }
}

#[cfg(test)]
mod tests {
    use libmimalloc_sys::mi_option_get;

    /// The option number is mimalloc's purge delay: its default (1000 ms in
    /// mimalloc 3's options.c) before, -1 after.
    #[test]
    fn freed_memory_is_kept() {
        // SAFETY: reads one integer option.
        #[allow(unsafe_code)]
        let before = unsafe { mi_option_get(super::PURGE_DELAY) };
        assert_eq!(before, 1000, "option {} is not the purge delay", super::PURGE_DELAY);
        super::keep_freed_memory();
        #[allow(unsafe_code)]
        let after = unsafe { mi_option_get(super::PURGE_DELAY) };
        assert_eq!(after, -1);
    }
}
