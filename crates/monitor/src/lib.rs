//! monitor (being written).
