//! Axis-aligned rectangles in surface coordinates.

/// A rectangle: `x`, `y` of its top-left corner, `w`×`h` pixels. Empty when `w` or `h` is 0.
///
/// All operations saturate instead of overflowing, so rectangles built from guest- or
/// client-supplied numbers are safe to combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

impl Rect {
    /// A rectangle from its corner and size.
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    /// True when it covers no pixel.
    pub const fn is_empty(&self) -> bool {
        self.w == 0 || self.h == 0
    }

    /// One past the right edge (saturating).
    pub const fn right(&self) -> u32 {
        self.x.saturating_add(self.w)
    }

    /// One past the bottom edge (saturating).
    pub const fn bottom(&self) -> u32 {
        self.y.saturating_add(self.h)
    }

    /// Number of pixels covered.
    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    /// The common part of two rectangles (empty, at 0,0, when they do not overlap).
    pub fn intersect(&self, other: &Rect) -> Rect {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        if x1 <= x0 || y1 <= y0 {
            return Rect::default();
        }
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    /// This rectangle clipped to a `w`×`h` surface.
    pub fn clamp_to(&self, w: u32, h: u32) -> Rect {
        self.intersect(&Rect::new(0, 0, w, h))
    }

    /// The smallest rectangle containing both (an empty operand is ignored).
    pub fn union(&self, other: &Rect) -> Rect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        let x0 = self.x.min(other.x);
        let y0 = self.y.min(other.y);
        let x1 = self.right().max(other.right());
        let y1 = self.bottom().max(other.bottom());
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    /// True when the pixel `(x, y)` lies inside.
    pub const fn contains(&self, x: u32, y: u32) -> bool {
        x >= self.x && y >= self.y && x < self.right() && y < self.bottom()
    }

    /// True when `other` lies entirely inside this rectangle (an empty `other` always does).
    pub const fn contains_rect(&self, other: &Rect) -> bool {
        other.is_empty()
            || (other.x >= self.x
                && other.y >= self.y
                && other.right() <= self.right()
                && other.bottom() <= self.bottom())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_and_union() {
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 10, 10);
        assert_eq!(a.intersect(&b), Rect::new(5, 5, 5, 5));
        assert_eq!(a.union(&b), Rect::new(0, 0, 15, 15));
        assert!(a.intersect(&Rect::new(10, 0, 5, 5)).is_empty());
        assert_eq!(Rect::default().union(&b), b);
        assert_eq!(b.union(&Rect::default()), b);
    }

    #[test]
    fn clamp_and_contains() {
        let r = Rect::new(700, 390, 100, 100).clamp_to(721, 401);
        assert_eq!(r, Rect::new(700, 390, 21, 11));
        assert!(r.contains(720, 400));
        assert!(!r.contains(721, 400));
        assert!(Rect::new(0, 0, 721, 401).contains_rect(&r));
        assert!(
            Rect::new(u32::MAX - 1, 0, 10, 1)
                .clamp_to(100, 100)
                .is_empty()
        );
        assert_eq!(Rect::new(u32::MAX - 1, 0, 10, 1).right(), u32::MAX);
    }
}
