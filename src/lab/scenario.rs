//! Drill scenarios (being built).
