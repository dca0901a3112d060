//! Test support: spawn the real binary, drive it with real clients.
