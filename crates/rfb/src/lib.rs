//! rfb (being written).
