//! The admission decision from the outside: reviews as JSON in, decisions and responses out.

mod decisions;
mod fixtures;
mod index;
mod malformed;
mod properties;
