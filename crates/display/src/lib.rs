//! display (being written).
