//! qapi (being written).
