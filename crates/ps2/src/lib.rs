//! ps2 (being written).
