//! qemuopts (being written).
