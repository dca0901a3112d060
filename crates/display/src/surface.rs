//! The framebuffer a display source renders into.

use crate::{Error, MAX_HEIGHT, MAX_WIDTH, Rect};

/// A `width`×`height` framebuffer of `0x00RRGGBB` pixels, row-major, stride == width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Surface {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

fn checked_len(width: u32, height: u32) -> Result<usize, Error> {
    if width == 0 || height == 0 || width > MAX_WIDTH || height > MAX_HEIGHT {
        return Err(Error::InvalidSize { width, height });
    }
    // Bounded above by 8192 × 8192, which fits any usize we build for.
    usize::try_from(u64::from(width) * u64::from(height))
        .map_err(|_| Error::InvalidSize { width, height })
}

impl Surface {
    /// A black surface. Sizes of 0 or beyond [`MAX_WIDTH`]×[`MAX_HEIGHT`] are refused
    /// before any allocation.
    pub fn new(width: u32, height: u32) -> Result<Self, Error> {
        let len = checked_len(width, height)?;
        Ok(Self {
            width,
            height,
            pixels: vec![0; len],
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole surface as a rectangle.
    pub fn rect(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// All pixels, row after row.
    pub fn pixels(&self) -> &[u32] {
        &self.pixels
    }

    /// All pixels, mutable.
    pub fn pixels_mut(&mut self) -> &mut [u32] {
        &mut self.pixels
    }

    /// One row of pixels; empty when `y` is out of range.
    pub fn row(&self, y: u32) -> &[u32] {
        match self.index(0, y) {
            Some(start) => &self.pixels[start..start + self.width_usize()],
            None => &[],
        }
    }

    /// One row of pixels, mutable; empty when `y` is out of range.
    pub fn row_mut(&mut self, y: u32) -> &mut [u32] {
        match self.index(0, y) {
            Some(start) => {
                let w = self.width_usize();
                &mut self.pixels[start..start + w]
            }
            None => &mut [],
        }
    }

    /// Changes the size; the contents are cleared to black. On error the surface is unchanged.
    pub fn resize(&mut self, width: u32, height: u32) -> Result<(), Error> {
        let len = checked_len(width, height)?;
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.resize(len, 0);
        Ok(())
    }

    /// The pixel at `(x, y)`; black (0) outside the surface.
    pub fn get(&self, x: u32, y: u32) -> u32 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    /// Sets the pixel at `(x, y)`; ignored outside the surface.
    pub fn set(&mut self, x: u32, y: u32, rgb: u32) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = rgb;
        }
    }

    /// Fills `r`, clipped to the surface, with `rgb`.
    pub fn fill_rect(&mut self, r: Rect, rgb: u32) {
        let r = r.clamp_to(self.width, self.height);
        if r.is_empty() {
            return;
        }
        let (x0, w) = (to_usize(r.x), to_usize(r.w));
        for y in r.y..r.bottom() {
            let row = self.row_mut(y);
            row[x0..x0 + w].fill(rgb);
        }
    }

    fn width_usize(&self) -> usize {
        to_usize(self.width)
    }

    fn index(&self, x: u32, y: u32) -> Option<usize> {
        (x < self.width && y < self.height).then(|| to_usize(y) * self.width_usize() + to_usize(x))
    }
}

/// u32 → usize; every target we build for has at least 32-bit pointers.
pub(crate) fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_zero_and_oversize_before_allocating() {
        assert!(matches!(
            Surface::new(0, 10),
            Err(Error::InvalidSize { .. })
        ));
        assert!(Surface::new(10, 0).is_err());
        assert!(Surface::new(MAX_WIDTH + 1, 1).is_err());
        assert!(Surface::new(1, MAX_HEIGHT + 1).is_err());
        assert!(Surface::new(u32::MAX, u32::MAX).is_err());
        let s = Surface::new(MAX_WIDTH, MAX_HEIGHT).unwrap();
        assert_eq!(s.pixels().len(), 8192 * 8192);
    }

    #[test]
    fn get_set_fill_clip() {
        let mut s = Surface::new(4, 3).unwrap();
        s.set(3, 2, 0x123456);
        s.set(4, 2, 0xffffff); // outside: ignored
        assert_eq!(s.get(3, 2), 0x123456);
        assert_eq!(s.get(4, 2), 0);
        s.fill_rect(Rect::new(2, 1, 100, 100), 0xff);
        assert_eq!(s.row(0), &[0, 0, 0, 0]);
        assert_eq!(s.row(1), &[0, 0, 0xff, 0xff]);
        assert_eq!(s.row(2), &[0, 0, 0xff, 0xff]);
        assert!(s.row(3).is_empty());
    }

    #[test]
    fn resize_clears_and_failed_resize_keeps_contents() {
        let mut s = Surface::new(2, 2).unwrap();
        s.fill_rect(s.rect(), 0xabcdef);
        assert!(s.resize(0, 5).is_err());
        assert_eq!((s.width(), s.height()), (2, 2));
        assert_eq!(s.get(1, 1), 0xabcdef);
        s.resize(3, 1).unwrap();
        assert_eq!(s.pixels(), &[0, 0, 0]);
    }
}
