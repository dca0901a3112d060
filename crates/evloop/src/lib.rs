//! evloop (being written).
