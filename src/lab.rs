//! lab (to be built).
