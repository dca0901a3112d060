//! RFB pixel formats and conversion from the server's native `0x00RRGGBB` pixels.

use crate::Error;

/// An RFB `PIXEL_FORMAT` (RFC 6143 §7.4).
///
/// Values produced by [`PixelFormat::parse`] are normalised: `bits_per_pixel` is 8, 16
/// or 32, the format is true-colour, every maximum is non-zero and every shift is
/// below `bits_per_pixel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    /// Bits per pixel on the wire: 8, 16 or 32.
    pub bpp: u8,
    /// Number of useful bits (informational; not used for conversion).
    pub depth: u8,
    /// Multi-byte pixels are sent most significant byte first.
    pub big_endian: bool,
    /// True-colour (as opposed to colour-map) pixels.
    pub true_colour: bool,
    /// Maximum red value (2^n − 1 in sane formats).
    pub red_max: u16,
    /// Maximum green value.
    pub green_max: u16,
    /// Maximum blue value.
    pub blue_max: u16,
    /// Bit position of the red component.
    pub red_shift: u8,
    /// Bit position of the green component.
    pub green_shift: u8,
    /// Bit position of the blue component.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// The server's native format: 32 bpp, depth 24, little-endian, true colour,
    /// 8 bits per channel at shifts 16/8/0 (i.e. `0x00RRGGBB` in a little-endian u32).
    pub const NATIVE: PixelFormat = PixelFormat {
        bpp: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// Serialises the format as the 16-byte wire structure (3 zero padding bytes).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bpp;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        b
    }

    /// Parses and validates the 16-byte wire structure.
    ///
    /// - `bits-per-pixel` must be 8, 16 or 32 (CVE-2014-7815).
    /// - Colour-map formats are refused: this server only speaks true colour.
    /// - A maximum of 0 is read as 255, as QEMU does (CVE-2015-8504).
    /// - A shift must be below `bits-per-pixel`.
    /// - Any non-zero flag byte means true; `depth` and padding are not checked.
    ///
    /// # Errors
    /// [`Error::BadBitsPerPixel`], [`Error::ColourMapUnsupported`] or
    /// [`Error::BadShift`].
    pub fn parse(b: &[u8; 16]) -> Result<Self, Error> {
        let bpp = b[0];
        if !matches!(bpp, 8 | 16 | 32) {
            return Err(Error::BadBitsPerPixel(bpp));
        }
        if b[3] == 0 {
            return Err(Error::ColourMapUnsupported);
        }
        let max = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
            0 => 255,
            m => m,
        };
        let pf = PixelFormat {
            bpp,
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: true,
            red_max: max(b[4], b[5]),
            green_max: max(b[6], b[7]),
            blue_max: max(b[8], b[9]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        };
        for shift in [pf.red_shift, pf.green_shift, pf.blue_shift] {
            if shift >= bpp {
                return Err(Error::BadShift { shift, bpp });
            }
        }
        Ok(pf)
    }

    /// Bytes per pixel on the wire (1, 2 or 4 for a validated format).
    #[must_use]
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bpp).div_ceil(8)
    }
}

impl Default for PixelFormat {
    fn default() -> Self {
        Self::NATIVE
    }
}

/// Scales an 8-bit channel value to `0..=max`.
///
/// For `max = 2^n − 1` (every real client) this keeps the top `n` bits when `n ≤ 8`
/// (as QEMU and TigerVNC do) and replicates bits upwards when `n > 8`, so 255 always
/// maps to `max`. Other maxima are scaled linearly, rounding down.
fn scale_channel(c: u8, max: u16) -> u32 {
    let c = u32::from(c);
    let max = u32::from(max);
    if max == 0 {
        return 0;
    }
    if max & (max + 1) == 0 {
        let bits = 32 - max.leading_zeros();
        if bits <= 8 {
            c >> (8 - bits)
        } else {
            (c << (bits - 8)) | (c >> (16 - bits))
        }
    } else {
        c * max / 255
    }
}

/// The bits of a 32-bit pixel value that no colour channel of `pf` uses (0 for 8 and
/// 16 bpp).
fn unused_bits(pf: &PixelFormat) -> u32 {
    if pf.bpp != 32 {
        return 0;
    }
    let used = |max: u16, shift: u8| {
        let width = 16 - max.leading_zeros();
        let mask = ((1u64 << width) - 1) << shift;
        u32::try_from(mask & 0xFFFF_FFFF).unwrap_or(u32::MAX)
    };
    !(used(pf.red_max, pf.red_shift)
        | used(pf.green_max, pf.green_shift)
        | used(pf.blue_max, pf.blue_shift))
}

/// Converts native `0x00RRGGBB` pixels into a client pixel format.
///
/// Holds one 256-entry table per channel with the value already shifted into
/// place, so a pixel costs three lookups and two ORs.
///
/// In 32-bit formats other than the native one, the bits no channel uses are sent as
/// ones. Clients ignore them (RFC 6143 §7.4), except clients that copy pixels straight
/// into RGBA image data and take that byte as alpha: noVNC 1.3's Raw decoder (Debian 12's
/// `novnc`) makes only the first rectangle of its receive buffer opaque, so zeros there
/// show as transparent, black pixels. The native format is sent as the surface holds it
/// (`0x00RRGGBB`), as QEMU sends it.
#[derive(Clone)]
pub(crate) struct Converter {
    pf: PixelFormat,
    /// For 32 bpp formats whose channels are whole bytes (max 255, shifts 0/8/16/24): the
    /// shifts, so a pixel is a byte shuffle without table lookups.
    byte_shifts: Option<(u32, u32, u32)>,
    red: [u32; 256],
    green: [u32; 256],
    blue: [u32; 256],
    /// ORed into every converted pixel: the unused bits of a non-native 32-bit format.
    fill: u32,
}

impl Converter {
    pub(crate) fn new(pf: PixelFormat) -> Self {
        let table = |max: u16, shift: u8| -> [u32; 256] {
            core::array::from_fn(|i| {
                let c = u8::try_from(i).unwrap_or(u8::MAX);
                scale_channel(c, max)
                    .checked_shl(u32::from(shift))
                    .unwrap_or(0)
            })
        };
        let byte_shift = |max: u16, shift: u8| max == 255 && shift.is_multiple_of(8) && shift <= 24;
        let byte_shifts = (pf.bpp == 32
            && byte_shift(pf.red_max, pf.red_shift)
            && byte_shift(pf.green_max, pf.green_shift)
            && byte_shift(pf.blue_max, pf.blue_shift))
        .then(|| {
            (
                u32::from(pf.red_shift),
                u32::from(pf.green_shift),
                u32::from(pf.blue_shift),
            )
        });
        let native = pf == PixelFormat::NATIVE;
        Converter {
            pf,
            byte_shifts,
            red: table(pf.red_max, pf.red_shift),
            green: table(pf.green_max, pf.green_shift),
            blue: table(pf.blue_max, pf.blue_shift),
            fill: if native { 0 } else { unused_bits(&pf) },
        }
    }

    pub(crate) fn format(&self) -> &PixelFormat {
        &self.pf
    }

    /// The client pixel value for a native pixel (not yet cut to bpp).
    fn value(&self, p: u32) -> u32 {
        let [_, r, g, b] = p.to_be_bytes();
        self.red[usize::from(r)]
            | self.green[usize::from(g)]
            | self.blue[usize::from(b)]
            | self.fill
    }

    /// Appends the wire bytes for `pixels` to `out`.
    pub(crate) fn write_pixels(&self, pixels: &[u32], out: &mut Vec<u8>) {
        if let Some((rs, gs, bs)) = self.byte_shifts {
            // The native format too. One resize and a fixed-size copy per pixel: the loop
            // vectorizes.
            let (big, fill) = (self.pf.big_endian, self.fill);
            let start = out.len();
            out.resize(start + pixels.len() * 4, 0);
            for (dst, &p) in out[start..].chunks_exact_mut(4).zip(pixels) {
                let v =
                    ((p >> 16) & 0xFF) << rs | ((p >> 8) & 0xFF) << gs | (p & 0xFF) << bs | fill;
                dst.copy_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            return;
        }
        match (self.pf.bpp, self.pf.big_endian) {
            (8, _) => out.extend(pixels.iter().map(|&p| self.value(p).to_le_bytes()[0])),
            (16, big) => {
                for &p in pixels {
                    let [lo, hi, _, _] = self.value(p).to_le_bytes();
                    out.extend_from_slice(&if big { [hi, lo] } else { [lo, hi] });
                }
            }
            (_, big) => {
                for &p in pixels {
                    let v = self.value(p);
                    out.extend_from_slice(&if big {
                        v.to_be_bytes()
                    } else {
                        v.to_le_bytes()
                    });
                }
            }
        }
    }
}

impl core::fmt::Debug for Converter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Converter")
            .field("pf", &self.pf)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_aligned_32bpp_formats_take_the_shuffle_path_with_the_same_bytes() {
        // libvncclient's default (RGB in the low bytes), BGR, big-endian, channels at 8/16/24.
        let pixels: Vec<u32> = (0..4096u32)
            .map(|i| i.wrapping_mul(0x9E37_79B9) & 0x00FF_FFFF)
            .collect();
        for (big, rs, gs, bs) in [
            (false, 0, 8, 16),
            (false, 16, 8, 0),
            (true, 16, 8, 0),
            (true, 24, 16, 8),
        ] {
            let mut b = PixelFormat::NATIVE.to_bytes();
            b[2] = u8::from(big);
            b[10] = rs;
            b[11] = gs;
            b[12] = bs;
            let pf = PixelFormat::parse(&b).unwrap();
            let conv = Converter::new(pf);
            assert!(conv.byte_shifts.is_some());
            let mut fast = Vec::new();
            conv.write_pixels(&pixels, &mut fast);
            // The table path, one pixel at a time.
            let mut slow = Vec::new();
            for &p in &pixels {
                let v = conv.value(p);
                slow.extend_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            assert_eq!(fast, slow, "big={big} shifts={rs}/{gs}/{bs}");
        }
    }

    #[test]
    fn native_round_trips() {
        let b = PixelFormat::NATIVE.to_bytes();
        assert_eq!(b, [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        assert_eq!(PixelFormat::parse(&b).unwrap(), PixelFormat::NATIVE);
        assert_eq!(PixelFormat::NATIVE.bytes_per_pixel(), 4);
    }

    #[test]
    fn cve_2015_8504_max_zero_reads_as_255() {
        let mut b = PixelFormat::NATIVE.to_bytes();
        b[0] = 16;
        b[4..10].fill(0);
        b[10] = 11;
        b[11] = 5;
        b[12] = 0;
        let pf = PixelFormat::parse(&b).unwrap();
        assert_eq!((pf.red_max, pf.green_max, pf.blue_max), (255, 255, 255));
        // Conversion with those maxima must not divide by zero or panic.
        let mut out = Vec::new();
        Converter::new(pf).write_pixels(&[0x00ff_ffff, 0], &mut out);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn bad_formats_are_refused() {
        let mut b = PixelFormat::NATIVE.to_bytes();
        for bpp in [0u8, 1, 4, 15, 24, 64, 255] {
            b[0] = bpp;
            assert!(matches!(PixelFormat::parse(&b), Err(Error::BadBitsPerPixel(x)) if x == bpp));
        }
        b[0] = 32;
        b[3] = 0;
        assert!(matches!(
            PixelFormat::parse(&b),
            Err(Error::ColourMapUnsupported)
        ));
        b[3] = 1;
        b[0] = 16;
        // red shift 16 is not below 16 bpp
        assert!(matches!(
            PixelFormat::parse(&b),
            Err(Error::BadShift { shift: 16, bpp: 16 })
        ));
        b[0] = 32;
        b[12] = 200;
        assert!(PixelFormat::parse(&b).is_err());
    }

    #[test]
    fn flags_are_any_non_zero() {
        let mut b = PixelFormat::NATIVE.to_bytes();
        b[2] = 7;
        b[3] = 0x80;
        let pf = PixelFormat::parse(&b).unwrap();
        assert!(pf.big_endian && pf.true_colour);
    }

    #[test]
    fn unused_bits_of_32_bit_formats_are_ones_except_in_the_native_format() {
        // noVNC's format: red in the first byte, the fourth byte unused (RGBX).
        let rgbx = PixelFormat {
            red_shift: 0,
            blue_shift: 16,
            ..PixelFormat::NATIVE
        };
        let mut out = Vec::new();
        Converter::new(rgbx).write_pixels(&[0x0011_2233, 0], &mut out);
        assert_eq!(out, [0x11, 0x22, 0x33, 0xff, 0, 0, 0, 0xff]);
        let mut out = Vec::new();
        Converter::new(PixelFormat::NATIVE).write_pixels(&[0x0011_2233], &mut out);
        assert_eq!(out, [0x33, 0x22, 0x11, 0]);
        // 10 bits per channel use 30 bits: the top two are ones.
        let deep = PixelFormat {
            red_max: 1023,
            green_max: 1023,
            blue_max: 1023,
            red_shift: 20,
            green_shift: 10,
            blue_shift: 0,
            ..PixelFormat::NATIVE
        };
        assert_eq!(unused_bits(&deep), 0xC000_0000);
        let mut out = Vec::new();
        Converter::new(deep).write_pixels(&[0], &mut out);
        assert_eq!(out, [0, 0, 0, 0xC0]);
        // Narrower pixels have no room to spare.
        let rgb565 = PixelFormat {
            bpp: 16,
            depth: 16,
            red_max: 31,
            green_max: 63,
            blue_max: 31,
            red_shift: 11,
            green_shift: 5,
            blue_shift: 0,
            ..PixelFormat::NATIVE
        };
        assert_eq!(unused_bits(&rgb565), 0);
    }

    #[test]
    fn channel_scaling() {
        assert_eq!(scale_channel(255, 7), 7);
        assert_eq!(scale_channel(128, 7), 4);
        assert_eq!(scale_channel(0x1f, 31), 3);
        assert_eq!(scale_channel(255, 3), 3);
        assert_eq!(scale_channel(255, 65535), 65535);
        assert_eq!(scale_channel(0x80, 1023), 0x202);
        assert_eq!(scale_channel(255, 100), 100);
        assert_eq!(scale_channel(127, 100), 49);
        assert_eq!(scale_channel(9, 0), 0);
    }
}
