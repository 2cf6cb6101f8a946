//! A decoder's memory is bounded by the image's pixels, not by what its
//! file's side data inflates to: a 1 MB PNG whose ICC profile inflates to
//! 256 MiB must not cost 256 MiB. Measured with a counting allocator, which
//! is why this test is a binary of its own.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The allocator only counts and forwards to the system's.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An 8x8 grey PNG with an ICC profile of `profile` zero bytes.
fn png_with_profile(profile: usize) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = [0u8; 13];
    header[..4].copy_from_slice(&8u32.to_be_bytes());
    header[4..8].copy_from_slice(&8u32.to_be_bytes());
    header[8] = 8; // bits per channel
    header[9] = 2; // RGB
    png.extend(chunk(b"IHDR", &header));
    let mut icc = b"bomb\0\0".to_vec();
    let zeros = vec![0u8; 1 << 20];
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..profile >> 20 {
        encoder.write_all(&zeros).unwrap();
    }
    icc.extend(encoder.finish().unwrap());
    png.extend(chunk(b"iCCP", &icc));
    let rows: Vec<u8> = (0..8).flat_map(|_| std::iter::once(0).chain([128u8; 24])).collect();
    png.extend(chunk(b"IDAT", &zlib(&rows)));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn an_inflating_icc_profile_costs_no_memory() {
    let bomb = png_with_profile(256 << 20);
    assert!(bomb.len() < 2_000_000, "the file is small: {} bytes", bomb.len());
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let before = LIVE.load(Ordering::Relaxed);
    let image = model::preprocess::decode(&bomb).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(image.dimensions(), (8, 8));
    assert_eq!(image.get_pixel(3, 3).0, [128, 128, 128], "the pixels are as stored");
    assert!(peak < 16 << 20, "decoding an 8x8 photo took {} MB", peak >> 20);
}
