//! Unit tests of the conditions.
