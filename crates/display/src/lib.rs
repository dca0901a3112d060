//! Device-independent display layer: the role of QEMU's `ui/console.c`.
//!
//! Design note:
//! - A [`Surface`] is the one framebuffer a display source (the VGA card today) renders into:
//!   `0x00RRGGBB` pixels, stride equal to the width, bounded by [`MAX_WIDTH`]×[`MAX_HEIGHT`]
//!   (the largest VBE mode) *before* anything is allocated, because the size comes from the guest.
//! - A [`DirtyMap`] is per consumer (each VNC client owns one): a bitmap of [`TILE`]×[`TILE`]
//!   tiles. [`DirtyMap::take_rects`] turns it into rectangles the QEMU way (runs along a tile
//!   row, then merged downwards while the rows below have the same run dirty) and clamps every
//!   rectangle to the surface, so sizes that are not multiples of 16 can never produce
//!   rectangles outside it (CVE-2015-5225 / CVE-2017-2633 class).
//! - Screendumps ([`write_image`]) are written atomically: a temporary file in the target's
//!   directory, written, fsynced and renamed over the target; the temporary file is removed on
//!   any error, so a failed dump never leaves a truncated image behind. Error texts follow QEMU's.
//!
//! This crate knows nothing of VNC or VGA and does no I/O except in [`write_image`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dirty;
mod image;
mod rect;
mod surface;

pub use dirty::{DirtyMap, TILE};
pub use image::{ImageFormat, encode_png, encode_ppm, write_image};
pub use rect::Rect;
pub use surface::Surface;

/// Widest surface accepted: the largest Bochs VBE mode Porthole's VGA card offers (QEMU's VNC
/// server stops at 5120).
pub const MAX_WIDTH: u32 = 8192;
/// Tallest surface accepted (QEMU's VNC server stops at 2160).
pub const MAX_HEIGHT: u32 = 8192;

/// Errors of the display layer.
///
/// File errors carry the OS reason as text (`reason`, in the `strerror` form QEMU prints) rather
/// than as a `#[source]`, because QEMU's message includes it and a source would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A surface size of zero or beyond [`MAX_WIDTH`]×[`MAX_HEIGHT`].
    #[error("invalid surface size {width}x{height} (must be 1x1 to {MAX_WIDTH}x{MAX_HEIGHT})")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The screendump file could not be created (QEMU: `Could not open '%s': %s`).
    #[error("Could not open '{path}': {reason}")]
    Open {
        /// The path the caller asked for.
        path: String,
        /// The OS reason, e.g. `No such file or directory`.
        reason: String,
    },
    /// Writing, syncing or renaming the screendump failed; the target is left untouched.
    #[error("Unable to write to file '{path}': {reason}")]
    Write {
        /// The path the caller asked for.
        path: String,
        /// The OS reason, e.g. `No space left on device`.
        reason: String,
    },
    /// PNG encoding failed.
    #[error("PNG encoding failed")]
    Png(#[source] png::EncodingError),
    /// An image format name other than `ppm` or `png` (QEMU: `invalid parameter value: %s`).
    #[error("invalid parameter value: {0}")]
    InvalidFormat(String),
}
