//! rfbclient (being written).
