//! Per-consumer dirty tracking on a tile grid.

use crate::{MAX_HEIGHT, MAX_WIDTH, Rect};

/// Tile edge in pixels (QEMU's `VNC_DIRTY_PIXELS_PER_BIT`).
pub const TILE: u32 = 16;

const WORD_BITS: u32 = u64::BITS;

/// Dirty tiles of a `width`×`height` surface, one bit per [`TILE`]×[`TILE`] tile.
///
/// The size is clamped to [`MAX_WIDTH`]×[`MAX_HEIGHT`], so the bitmap is bounded (at most
/// 512×512 tiles) whatever the caller passes. Rectangles handed out are always clamped to the
/// surface, including the partial tiles at the right and bottom edges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyMap {
    width: u32,
    height: u32,
    cols: u32,
    rows: u32,
    words_per_row: usize,
    bits: Vec<u64>,
}

impl DirtyMap {
    /// A map for a `width`×`height` surface with nothing dirty.
    pub fn new(width: u32, height: u32) -> Self {
        let mut map = Self {
            width: 0,
            height: 0,
            cols: 0,
            rows: 0,
            words_per_row: 0,
            bits: Vec::new(),
        };
        map.set_size(width, height);
        map
    }

    /// Surface width tracked (after clamping to [`MAX_WIDTH`]).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Surface height tracked (after clamping to [`MAX_HEIGHT`]).
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Follows a surface resize: the new size, with everything dirty.
    pub fn resize(&mut self, width: u32, height: u32) {
        self.set_size(width, height);
        self.mark_all();
    }

    fn set_size(&mut self, width: u32, height: u32) {
        self.width = width.min(MAX_WIDTH);
        self.height = height.min(MAX_HEIGHT);
        self.cols = self.width.div_ceil(TILE);
        self.rows = self.height.div_ceil(TILE);
        self.words_per_row = idx(self.cols.div_ceil(WORD_BITS));
        self.bits.clear();
        self.bits.resize(self.words_per_row * idx(self.rows), 0);
    }

    /// Marks every tile that `r` (clipped to the surface) touches.
    pub fn mark(&mut self, r: Rect) {
        let r = r.clamp_to(self.width, self.height);
        if r.is_empty() {
            return;
        }
        let (tx0, ty0, tx1, ty1) = tile_span(&r);
        for ty in ty0..ty1 {
            set_range(self.row_mut(ty), tx0, tx1);
        }
    }

    /// Marks the whole surface.
    pub fn mark_all(&mut self) {
        let cols = self.cols;
        for ty in 0..self.rows {
            set_range(self.row_mut(ty), 0, cols);
        }
    }

    /// Forgets all dirty tiles.
    pub fn clear(&mut self) {
        self.bits.fill(0);
    }

    /// True when any tile is dirty.
    pub fn is_dirty(&self) -> bool {
        self.bits.iter().any(|&w| w != 0)
    }

    /// True when the tile holding pixel `(x, y)` is dirty (false outside the surface).
    pub fn is_tile_dirty(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let (tx, ty) = (x / TILE, y / TILE);
        let row = self.row(ty);
        row[idx(tx / WORD_BITS)] & (1 << (tx % WORD_BITS)) != 0
    }

    /// Takes every dirty tile as rectangles and clears the map.
    ///
    /// Runs of dirty tiles along a tile row become one rectangle, which grows downwards while
    /// the rows below have the same run dirty (as QEMU's VNC server does). Rectangles never
    /// overlap and are clamped to the surface.
    pub fn take_rects(&mut self) -> Vec<Rect> {
        self.take_tiles(0, 0, self.cols, self.rows)
    }

    /// Takes and clears only the dirty tiles that intersect `area` (a client asking for a
    /// sub-area); tiles outside stay dirty for a later request.
    ///
    /// The granularity is the tile: a tile partly inside `area` is taken whole, so a
    /// rectangle may reach up to `TILE - 1` pixels beyond `area` (never beyond the surface).
    /// Clipping it to `area` instead would either lose the outside part of the tile or leave
    /// the tile dirty forever for a client that keeps asking for the same unaligned area.
    pub fn take_rects_in(&mut self, area: Rect) -> Vec<Rect> {
        let area = area.clamp_to(self.width, self.height);
        if area.is_empty() {
            return Vec::new();
        }
        let (tx0, ty0, tx1, ty1) = tile_span(&area);
        self.take_tiles(tx0, ty0, tx1, ty1)
    }

    fn take_tiles(&mut self, tx0: u32, ty0: u32, tx1: u32, ty1: u32) -> Vec<Rect> {
        let mut out = Vec::new();
        for ty in ty0..ty1 {
            let mut tx = tx0;
            while let Some(x0) = next_set(self.row(ty), tx, tx1) {
                let x1 = next_clear(self.row(ty), x0, tx1);
                clear_range(self.row_mut(ty), x0, x1);
                let mut y1 = ty + 1;
                while y1 < ty1 && all_set(self.row(y1), x0, x1) {
                    clear_range(self.row_mut(y1), x0, x1);
                    y1 += 1;
                }
                let r = Rect::new(x0 * TILE, ty * TILE, (x1 - x0) * TILE, (y1 - ty) * TILE);
                out.push(r.clamp_to(self.width, self.height));
                tx = x1;
            }
        }
        out
    }

    fn row(&self, ty: u32) -> &[u64] {
        let start = idx(ty) * self.words_per_row;
        &self.bits[start..start + self.words_per_row]
    }

    fn row_mut(&mut self, ty: u32) -> &mut [u64] {
        let start = idx(ty) * self.words_per_row;
        &mut self.bits[start..start + self.words_per_row]
    }
}

fn idx(v: u32) -> usize {
    crate::surface::to_usize(v)
}

/// Tile columns `[tx0, tx1)` and rows `[ty0, ty1)` touched by a non-empty rectangle.
fn tile_span(r: &Rect) -> (u32, u32, u32, u32) {
    (
        r.x / TILE,
        r.y / TILE,
        r.right().div_ceil(TILE),
        r.bottom().div_ceil(TILE),
    )
}

/// Calls `f(word_index, mask)` for the words covering bits `[from, to)`.
fn for_words(from: u32, to: u32, mut f: impl FnMut(usize, u64) -> bool) {
    let mut bit = from;
    while bit < to {
        let word = bit / WORD_BITS;
        let lo = bit % WORD_BITS;
        let hi = (to - word * WORD_BITS).min(WORD_BITS);
        let mask = if hi - lo == WORD_BITS {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        if !f(idx(word), mask) {
            return;
        }
        bit = (word + 1) * WORD_BITS;
    }
}

fn set_range(row: &mut [u64], from: u32, to: u32) {
    for_words(from, to, |w, m| {
        row[w] |= m;
        true
    });
}

fn clear_range(row: &mut [u64], from: u32, to: u32) {
    for_words(from, to, |w, m| {
        row[w] &= !m;
        true
    });
}

fn all_set(row: &[u64], from: u32, to: u32) -> bool {
    let mut all = true;
    for_words(from, to, |w, m| {
        all = row[w] & m == m;
        all
    });
    all
}

fn next_set(row: &[u64], from: u32, to: u32) -> Option<u32> {
    let mut found = None;
    for_words(from, to, |w, m| {
        let hits = row[w] & m;
        if hits != 0 {
            // w < words_per_row ≤ 5, so the product fits easily.
            let base = u32::try_from(w).unwrap_or(u32::MAX / WORD_BITS) * WORD_BITS;
            found = Some(base + hits.trailing_zeros());
            return false;
        }
        true
    });
    found
}

fn next_clear(row: &[u64], from: u32, to: u32) -> u32 {
    let mut found = to;
    for_words(from, to, |w, m| {
        let holes = !row[w] & m;
        if holes != 0 {
            let base = u32::try_from(w).unwrap_or(u32::MAX / WORD_BITS) * WORD_BITS;
            found = base + holes.trailing_zeros();
            return false;
        }
        true
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every pixel of `rects` as a set, checking they stay inside `w`×`h` and never overlap.
    fn coverage(rects: &[Rect], w: u32, h: u32) -> Vec<bool> {
        let mut cov = vec![false; idx(w) * idx(h)];
        for r in rects {
            assert!(!r.is_empty(), "empty rect {r:?}");
            assert!(
                Rect::new(0, 0, w, h).contains_rect(r),
                "{r:?} outside {w}x{h}"
            );
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    let i = idx(y) * idx(w) + idx(x);
                    assert!(!cov[i], "overlap at {x},{y}");
                    cov[i] = true;
                }
            }
        }
        cov
    }

    /// The pixels of the tiles touched by `marks`, clipped to the surface.
    fn expected(marks: &[Rect], w: u32, h: u32) -> Vec<bool> {
        let mut cov = vec![false; idx(w) * idx(h)];
        for m in marks {
            let m = m.clamp_to(w, h);
            if m.is_empty() {
                continue;
            }
            let (tx0, ty0, tx1, ty1) = tile_span(&m);
            let t = Rect::new(
                tx0 * TILE,
                ty0 * TILE,
                (tx1 - tx0) * TILE,
                (ty1 - ty0) * TILE,
            )
            .clamp_to(w, h);
            for y in t.y..t.bottom() {
                for x in t.x..t.right() {
                    cov[idx(y) * idx(w) + idx(x)] = true;
                }
            }
        }
        cov
    }

    fn check_sizes(w: u32, h: u32) {
        let mut map = DirtyMap::new(w, h);
        assert!(!map.is_dirty());
        map.mark_all();
        let rects = map.take_rects();
        assert!(!map.is_dirty());
        // A full map is one rectangle: the whole surface, not rounded up to tiles.
        assert_eq!(rects, vec![Rect::new(0, 0, w, h)]);
        let marks = [
            Rect::new(w.saturating_sub(1), h.saturating_sub(1), 50, 50),
            Rect::new(w / 2, 0, 1, h),
            Rect::new(0, h / 3, w + 1000, 1),
        ];
        for m in marks {
            map.mark(m);
        }
        let rects = map.take_rects();
        assert_eq!(coverage(&rects, w, h), expected(&marks, w, h));
    }

    #[test]
    fn cve_2015_5225_rects_stay_inside_unaligned_1366x768() {
        check_sizes(1366, 768);
    }

    #[test]
    fn cve_2017_2633_rects_stay_inside_unaligned_721x401() {
        check_sizes(721, 401);
    }

    #[test]
    fn cve_2015_5225_rects_stay_inside_1x1() {
        check_sizes(1, 1);
    }

    #[test]
    fn cve_2015_5225_oversize_is_clamped_to_max() {
        let mut map = DirtyMap::new(10_000, 9000);
        assert_eq!((map.width(), map.height()), (MAX_WIDTH, MAX_HEIGHT));
        map.mark(Rect::new(9000, 8500, 100, 100));
        assert!(!map.is_dirty());
        map.resize(10_000, 9000);
        assert_eq!(
            map.take_rects(),
            vec![Rect::new(0, 0, MAX_WIDTH, MAX_HEIGHT)]
        );
    }

    #[test]
    fn rows_merge_vertically_qemu_like() {
        let mut map = DirtyMap::new(640, 480);
        map.mark(Rect::new(16, 16, 32, 40)); // tiles x 1..3, y 1..4
        map.mark(Rect::new(100, 0, 1, 1)); // tile (6, 0)
        let rects = map.take_rects();
        assert_eq!(
            rects,
            vec![Rect::new(96, 0, 16, 16), Rect::new(16, 16, 32, 48)]
        );
    }

    #[test]
    fn take_rects_in_takes_only_the_area() {
        let mut map = DirtyMap::new(100, 100);
        map.mark_all();
        let inside = map.take_rects_in(Rect::new(0, 0, 32, 32));
        assert_eq!(inside, vec![Rect::new(0, 0, 32, 32)]);
        assert!(map.is_dirty());
        assert!(!map.is_tile_dirty(31, 31));
        assert!(map.is_tile_dirty(32, 0));
        assert!(map.is_tile_dirty(0, 32));
        // An unaligned area takes the tiles it touches, clamped to the surface.
        let edge = map.take_rects_in(Rect::new(90, 90, 500, 500));
        assert_eq!(edge, vec![Rect::new(80, 80, 20, 20)]);
        assert!(map.take_rects_in(Rect::new(200, 200, 5, 5)).is_empty());
        // The remainder is still there.
        let rest = map.take_rects();
        let mut cov = coverage(&rest, 100, 100);
        for r in inside.iter().chain(&edge) {
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    cov[idx(y) * 100 + idx(x)] = true;
                }
            }
        }
        assert!(cov.iter().all(|&c| c));
        assert!(!map.is_dirty());
    }

    #[test]
    fn clear_and_resize() {
        let mut map = DirtyMap::new(64, 64);
        map.mark(Rect::new(0, 0, 1, 1));
        map.clear();
        assert!(!map.is_dirty());
        assert!(map.take_rects().is_empty());
        map.resize(33, 17);
        assert_eq!(map.take_rects(), vec![Rect::new(0, 0, 33, 17)]);
        let mut empty = DirtyMap::new(0, 0);
        empty.mark_all();
        assert!(!empty.is_dirty());
        assert!(empty.take_rects().is_empty());
    }

    #[test]
    fn wide_rows_span_several_words() {
        // 5120 px = 320 tiles = 5 words per row; a run crossing word boundaries.
        let mut map = DirtyMap::new(MAX_WIDTH, 32);
        map.mark(Rect::new(60 * 16, 0, 70 * 16, 32));
        assert_eq!(map.take_rects(), vec![Rect::new(960, 0, 1120, 32)]);
    }

    proptest! {
        #[test]
        fn rects_cover_exactly_the_marked_tiles(
            w in 1u32..700, h in 1u32..300,
            marks in proptest::collection::vec((0u32..800, 0u32..400, 0u32..200, 0u32..200), 0..8),
        ) {
            let marks: Vec<Rect> = marks.into_iter().map(|(x, y, rw, rh)| Rect::new(x, y, rw, rh)).collect();
            let mut map = DirtyMap::new(w, h);
            for m in &marks {
                map.mark(*m);
            }
            let rects = map.take_rects();
            prop_assert_eq!(coverage(&rects, w, h), expected(&marks, w, h));
            prop_assert!(!map.is_dirty());
        }
    }
}
