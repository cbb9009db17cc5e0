//! The decisions of the built-in policies, user policies and their errors.

mod matrix;
mod policies;
