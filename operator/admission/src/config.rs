//! How the cluster's administrator tuned admission: which namespaces are never checked, which
//! namespaces' proofs count everywhere, and whether break-glass is allowed.

use std::collections::BTreeSet;

/// Never checked, whatever their labels: the control plane's own Pods must start even when the
/// webhook, or the operator serving it, cannot.
pub const ALWAYS_EXEMPT: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    exempt: BTreeSet<String>,
    /// Sorted and without duplicates, so that messages list them in a stable order.
    shared_proof_namespaces: Vec<String>,
    allow_break_glass: bool,
}

impl Config {
    /// Exempts [`ALWAYS_EXEMPT`] and the operator's own namespace (otherwise the operator could
    /// not be restarted while its webhook is unavailable); no shared proof namespace;
    /// break-glass disallowed.
    pub fn new(operator_namespace: &str) -> Self {
        let mut exempt: BTreeSet<String> = ALWAYS_EXEMPT.iter().map(|s| s.to_string()).collect();
        exempt.insert(operator_namespace.to_string());
        Self {
            exempt,
            shared_proof_namespaces: Vec::new(),
            allow_break_glass: false,
        }
    }

    /// Exempts one more namespace.
    pub fn exempt_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.exempt.insert(namespace.into());
        self
    }

    /// Makes the ProofVerifications of `namespace` count for workloads of every namespace, e.g.
    /// one where a platform team verifies the base images everyone runs.
    pub fn share_proofs_from(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        if let Err(at) = self.shared_proof_namespaces.binary_search(&namespace) {
            self.shared_proof_namespaces.insert(at, namespace);
        }
        self
    }

    pub fn allow_break_glass(mut self, allowed: bool) -> Self {
        self.allow_break_glass = allowed;
        self
    }

    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.exempt.contains(namespace)
    }

    pub fn exempt_namespaces(&self) -> impl Iterator<Item = &str> {
        self.exempt.iter().map(String::as_str)
    }

    pub fn break_glass_allowed(&self) -> bool {
        self.allow_break_glass
    }

    /// Where proofs for a workload in `namespace` are looked for: its own namespace first, then
    /// the shared ones.
    pub fn proof_namespaces<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a str> {
        std::iter::once(namespace).chain(
            self.shared_proof_namespaces
                .iter()
                .map(String::as_str)
                .filter(move |shared| *shared != namespace),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_exempts_the_control_plane_and_the_operator() {
        let config = Config::new("attestor-system");
        for namespace in ALWAYS_EXEMPT.into_iter().chain(["attestor-system"]) {
            assert!(config.is_exempt(namespace), "{namespace}");
        }
        assert!(!config.is_exempt("shop"));
        assert!(config.exempt_namespace("shop").is_exempt("shop"));
    }

    #[test]
    fn own_namespace_first_then_shared_without_duplicates() {
        let config = Config::new("attestor-system")
            .share_proofs_from("platform")
            .share_proofs_from("base")
            .share_proofs_from("platform");
        let shop: Vec<_> = config.proof_namespaces("shop").collect();
        assert_eq!(shop, ["shop", "base", "platform"]);
        let platform: Vec<_> = config.proof_namespaces("platform").collect();
        assert_eq!(platform, ["platform", "base"]);
    }
}
