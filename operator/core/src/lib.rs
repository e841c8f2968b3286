//! The verification core of the attestor operator.
//!
//! Everything here is pure: no Kubernetes types, no network, no clock reads
//! (the verification time is always passed in), so the same code serves the
//! offline CLI, the controllers and the admission webhook.
pub mod bundle;
pub mod canonical;
pub mod digest;
pub mod dsse;
pub mod keys;
pub mod ledger_reader;
pub mod merkle;
pub mod note;
pub mod pem;
pub mod tlog;
pub mod trust;
pub mod verify;
pub mod x509;
pub mod zip;
