//! export (to be built).
