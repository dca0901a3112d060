//! guest (being written).
