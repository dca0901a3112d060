//! RGB images from PNG and PPM files and from RFB framebuffers, and ways to compare them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// Largest width or height accepted from a file (the VGA modes are far below this).
pub const MAX_SIDE: u32 = 8192;

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, R G B.
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Image({}x{}, {} non-black)",
            self.width,
            self.height,
            self.nonblack_pixels()
        )
    }
}

fn checked_len(width: u32, height: u32) -> Result<usize> {
    ensure!(
        width > 0 && height > 0 && width <= MAX_SIDE && height <= MAX_SIDE,
        "image size {width}x{height} is out of range"
    );
    let pixels = u64::from(width) * u64::from(height) * 3;
    usize::try_from(pixels).context("image too large")
}

impl Image {
    /// A black image.
    pub fn black(width: u32, height: u32) -> Result<Image> {
        let len = checked_len(width, height)?;
        Ok(Image {
            width,
            height,
            rgb: vec![0; len],
        })
    }

    /// From 0x00RRGGBB pixels (the layout of a 32-bit true-colour RFB framebuffer with red
    /// shift 16, green 8, blue 0).
    pub fn from_xrgb(pixels: &[u32], width: u32, height: u32) -> Result<Image> {
        let len = checked_len(width, height)?;
        ensure!(
            pixels.len() * 3 == len,
            "{} pixels for {width}x{height}",
            pixels.len()
        );
        let mut rgb = Vec::with_capacity(len);
        for p in pixels {
            let [_, r, g, b] = p.to_be_bytes();
            rgb.extend_from_slice(&[r, g, b]);
        }
        Ok(Image { width, height, rgb })
    }

    /// Decodes a PNG file (any colour type and depth, converted to 8-bit RGB).
    pub fn read_png(path: &Path) -> Result<Image> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut decoder = png::Decoder::new(BufReader::new(file));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .with_context(|| format!("reading the PNG header of {}", path.display()))?;
        let (width, height) = (reader.info().width, reader.info().height);
        checked_len(width, height)?;
        let size = reader
            .output_buffer_size()
            .context("PNG output size overflows")?;
        let mut buf = vec![0; size];
        let info = reader
            .next_frame(&mut buf)
            .with_context(|| format!("decoding {}", path.display()))?;
        let channels = match info.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => bail!("{}: palette not expanded", path.display()),
        };
        ensure!(
            info.bit_depth == png::BitDepth::Eight,
            "{}: not 8-bit after expansion",
            path.display()
        );
        let mut rgb = Vec::with_capacity(checked_len(width, height)?);
        for y in 0..usize::try_from(height)? {
            let row = &buf[y * info.line_size..];
            for x in 0..usize::try_from(width)? {
                let px = &row[x * channels..x * channels + channels];
                match channels {
                    1 | 2 => rgb.extend_from_slice(&[px[0], px[0], px[0]]),
                    _ => rgb.extend_from_slice(&px[..3]),
                }
            }
        }
        Ok(Image { width, height, rgb })
    }

    /// Decodes a binary PPM (`P6`, maxval 255) file.
    pub fn read_ppm(path: &Path) -> Result<Image> {
        let mut data = Vec::new();
        File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .read_to_end(&mut data)?;
        let (header, offset) = parse_ppm_header(&data)?;
        ensure!(
            header.maxval == 255,
            "PPM maxval {} is not 255",
            header.maxval
        );
        let len = checked_len(header.width, header.height)?;
        let body = &data[offset..];
        ensure!(
            body.len() == len,
            "PPM body has {} bytes, {len} expected",
            body.len()
        );
        Ok(Image {
            width: header.width,
            height: header.height,
            rgb: body.to_vec(),
        })
    }

    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (usize::try_from(y).unwrap_or(usize::MAX)
            * usize::try_from(self.width).unwrap_or(0)
            + usize::try_from(x).unwrap_or(usize::MAX))
            * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Number of pixels that are not pure black.
    pub fn nonblack_pixels(&self) -> usize {
        self.rgb.chunks_exact(3).filter(|p| p != &[0, 0, 0]).count()
    }

    /// Number of distinct colours.
    pub fn colour_count(&self) -> usize {
        let mut colours: Vec<[u8; 3]> = self
            .rgb
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    }

    /// Positions (x, y) of the pixels that differ; an error if the sizes differ.
    pub fn diff(&self, other: &Image) -> Result<Vec<(u32, u32)>> {
        ensure!(
            self.width == other.width && self.height == other.height,
            "sizes differ: {}x{} vs {}x{}",
            self.width,
            self.height,
            other.width,
            other.height
        );
        let mut out = Vec::new();
        let mut i = 0;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.rgb[i..i + 3] != other.rgb[i..i + 3] {
                    out.push((x, y));
                }
                i += 3;
            }
        }
        Ok(out)
    }

    /// Number of `cell_w` x `cell_h` cells (a grid from the top left) with a differing pixel.
    pub fn differing_cells(&self, other: &Image, cell_w: u32, cell_h: u32) -> Result<usize> {
        let mut cells: Vec<(u32, u32)> = self
            .diff(other)?
            .into_iter()
            .map(|(x, y)| (x / cell_w, y / cell_h))
            .collect();
        cells.sort_unstable();
        cells.dedup();
        Ok(cells.len())
    }

    /// Bounding box (x0, y0, x1, y1), inclusive, of the differing pixels, if any differ.
    pub fn diff_bounds(&self, other: &Image) -> Result<Option<(u32, u32, u32, u32)>> {
        let diff = self.diff(other)?;
        Ok(diff.iter().fold(None, |acc, &(x, y)| match acc {
            None => Some((x, y, x, y)),
            Some((x0, y0, x1, y1)) => Some((x0.min(x), y0.min(y), x1.max(x), y1.max(y))),
        }))
    }

    /// Writes the image as PNG (for looking at a failure).
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()?;
        Ok(())
    }
}

/// Takes pairs of images from `take` up to `attempts` times and succeeds as soon as one pair
/// is identical. Retrying covers a blinking text cursor between two snapshots taken a few
/// milliseconds apart; a real difference persists and fails. On failure, the last pair is
/// written to `save_dir` as `NAME-a.png`/`NAME-b.png` for inspection.
pub fn expect_same_image(
    attempts: usize,
    save_dir: &Path,
    name: &str,
    mut take: impl FnMut() -> Result<(Image, Image)>,
) -> Result<Image> {
    let mut last = None;
    for _ in 0..attempts {
        let (a, b) = take()?;
        if a == b {
            return Ok(a);
        }
        last = Some((a, b));
    }
    let (a, b) = last.context("no attempt was made")?;
    let bounds = if a.width == b.width && a.height == b.height {
        format!(
            "{} pixels differ, within {:?}",
            a.diff(&b)?.len(),
            a.diff_bounds(&b)?
        )
    } else {
        format!(
            "sizes {}x{} and {}x{}",
            a.width, a.height, b.width, b.height
        )
    };
    let pa = save_dir.join(format!("{name}-a.png"));
    let pb = save_dir.join(format!("{name}-b.png"));
    a.write_png(&pa)?;
    b.write_png(&pb)?;
    // Keep the evidence: the scratch directory is deleted when the test ends.
    let keep = std::env::temp_dir().join(format!("porthole-failed-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&keep);
    let _ = std::fs::copy(&pa, keep.join("a.png"));
    let _ = std::fs::copy(&pb, keep.join("b.png"));
    bail!(
        "{name}: images differ in each of {attempts} attempts ({bounds}); last pair kept in {}",
        keep.display()
    )
}

/// The fields of a PPM header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PpmHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Largest sample value.
    pub maxval: u32,
}

/// Parses a `P6` header (whitespace and `#` comments allowed between fields); returns it and
/// the offset of the pixel data (after the single whitespace byte that ends the header).
pub fn parse_ppm_header(data: &[u8]) -> Result<(PpmHeader, usize)> {
    ensure!(data.starts_with(b"P6"), "not a binary PPM (P6) file");
    let mut pos = 2;
    let mut fields = [0u32; 3];
    for field in &mut fields {
        loop {
            match data.get(pos) {
                Some(b) if b.is_ascii_whitespace() => pos += 1,
                Some(b'#') => {
                    while data.get(pos).is_some_and(|&b| b != b'\n') {
                        pos += 1;
                    }
                }
                Some(_) => break,
                None => bail!("PPM header ends early"),
            }
        }
        let start = pos;
        while data.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        ensure!(
            pos > start && pos - start <= 9,
            "bad number in the PPM header"
        );
        *field = std::str::from_utf8(&data[start..pos])?.parse()?;
    }
    ensure!(
        data.get(pos).is_some_and(u8::is_ascii_whitespace),
        "PPM header does not end in whitespace"
    );
    Ok((
        PpmHeader {
            width: fields[0],
            height: fields[1],
            maxval: fields[2],
        },
        pos + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_header_with_comment() {
        let (h, off) = parse_ppm_header(b"P6\n# c\n720 400\n255\nxyz").unwrap();
        assert_eq!(
            h,
            PpmHeader {
                width: 720,
                height: 400,
                maxval: 255
            }
        );
        assert_eq!(off, 19);
        assert!(parse_ppm_header(b"P3\n1 1\n255\n").is_err());
        assert!(parse_ppm_header(b"P6\n1 1\n255").is_err());
    }

    #[test]
    fn png_round_trip_and_diff() {
        let dir = tempfile::tempdir().unwrap();
        let mut img = Image::black(20, 32).unwrap();
        img.rgb[3 * (5 * 20 + 9)] = 200;
        let path = dir.path().join("x.png");
        img.write_png(&path).unwrap();
        let back = Image::read_png(&path).unwrap();
        assert_eq!(back, img);
        let black = Image::black(20, 32).unwrap();
        assert_eq!(img.diff(&black).unwrap(), vec![(9, 5)]);
        assert_eq!(img.differing_cells(&black, 8, 16).unwrap(), 1);
        assert_eq!(img.diff_bounds(&black).unwrap(), Some((9, 5, 9, 5)));
        assert_eq!(img.nonblack_pixels(), 1);
        assert!(img.diff(&Image::black(21, 32).unwrap()).is_err());
    }

    #[test]
    fn xrgb_layout() {
        let img = Image::from_xrgb(&[0x00ff_8001], 1, 1).unwrap();
        assert_eq!(img.pixel(0, 0), [0xff, 0x80, 0x01]);
    }
}
