//! vnc (being written).
