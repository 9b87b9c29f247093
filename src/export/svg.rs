//! svg (next commit).
