//! Drill scoring (being built).
