//! vga (being written).
