//! The in-cluster runtime of the attestor operator.
//!
//! For now this is only [`fetch`]: getting proof bundles and trusted-issuer
//! key directories over HTTP(S) with hard limits on size, time, redirects and
//! retries. The controllers and the admission webhook will live here too;
//! verification itself stays in `attestor-core`, which never touches the network.
pub mod fetch;
