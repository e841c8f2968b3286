//! GitHub artifact attestations: the identity `gh attestation verify` requires, from the same
//! flags (`--owner`, `--repo`, `--signer-repo`, `--signer-workflow`, `--cert-oidc-issuer`,
//! `--deny-self-hosted-runners`), as one [`IdentityRule`]. The command line and
//! `TrustedIssuer.spec.github` both build their rule here, so a policy means the same in CI,
//! on a laptop and in the cluster.
//!
//! What gh checks, and so what the rule requires:
//! - the certificate's SourceRepositoryOwnerURI is `https://github.com/OWNER` (the owner of
//!   `--repo` when only that is given), and with `--repo` its SourceRepositoryURI is
//!   `https://github.com/OWNER/REPO`, compared without regard to case;
//! - the SAN (the workflow that signed): `--signer-workflow` as a pattern after
//!   `https://HOST/`, else under `--signer-repo`, else under the repository or owner;
//! - the OIDC issuer is `--cert-oidc-issuer`, GitHub Actions' by default;
//! - with `--deny-self-hosted-runners`, RunnerEnvironment is `github-hosted`.

use crate::verify::{IdentityRule, Matcher, fulcio};

/// GitHub Actions' OIDC issuer, the default of `--cert-oidc-issuer`.
pub const ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The flags of `gh attestation verify` that name the signer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitHubPolicy {
    pub owner: Option<String>,
    /// `OWNER/REPO`.
    pub repo: Option<String>,
    /// `OWNER/REPO` of a reusable workflow that signed.
    pub signer_repo: Option<String>,
    /// `[HOST/]OWNER/REPO/.github/workflows/FILE[@REF]`, a pattern as gh takes it.
    pub signer_workflow: Option<String>,
    pub cert_oidc_issuer: Option<String>,
    pub deny_self_hosted_runners: bool,
}

/// Whether an owner or `OWNER/REPO` is shaped as GitHub names are (no pattern characters,
/// no scheme): gh puts them into URLs and patterns as given.
fn check_name(what: &str, value: &str, parts: usize) -> Result<(), String> {
    let ok = value.split('/').count() == parts
        && value.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(())
    } else if parts == 1 {
        Err(format!("{what} {value:?} is not a GitHub owner name"))
    } else {
        Err(format!("{what} {value:?} is not OWNER/REPO"))
    }
}

fn exact_ignoring_case(value: &str) -> Matcher {
    Matcher::regex(&format!("(?i)^{}$", regex::escape(value)))
        .expect("an escaped literal is a valid pattern")
}

impl GitHubPolicy {
    /// Whether any of the signer flags is set.
    pub fn is_set(&self) -> bool {
        self.owner.is_some()
            || self.repo.is_some()
            || self.signer_repo.is_some()
            || self.signer_workflow.is_some()
    }

    /// The rule gh would enforce. Errors name the flag (or field) that is wrong.
    pub fn rule(&self) -> Result<IdentityRule, String> {
        if let Some(owner) = &self.owner {
            check_name("owner", owner, 1)?;
        }
        if let Some(repo) = &self.repo {
            check_name("repo", repo, 2)?;
        }
        if let Some(signer_repo) = &self.signer_repo {
            check_name("signer repo", signer_repo, 2)?;
        }
        let owner = match (&self.owner, &self.repo) {
            (Some(owner), Some(repo)) => {
                let repo_owner = repo.split('/').next().unwrap_or_default();
                if !repo_owner.eq_ignore_ascii_case(owner) {
                    return Err(format!(
                        "repo {repo:?} is not owned by {owner:?}: give one of owner and repo, or matching ones"
                    ));
                }
                owner.clone()
            }
            (Some(owner), None) => owner.clone(),
            (None, Some(repo)) => repo.split('/').next().unwrap_or_default().to_string(),
            (None, None) => {
                return Err(
                    "name the owner or the repository (OWNER/REPO) the artifact was built from"
                        .into(),
                );
            }
        };
        if self.signer_repo.is_some() && self.signer_workflow.is_some() {
            return Err("give at most one of signer repo and signer workflow".into());
        }
        let subject = match (&self.signer_workflow, &self.signer_repo) {
            (Some(workflow), _) => {
                // gh: a workflow that starts with a host name is taken as is, else github.com.
                let has_host = workflow
                    .split('/')
                    .next()
                    .is_some_and(|first| first.contains('.'));
                let full = if has_host {
                    workflow.clone()
                } else {
                    format!("github.com/{workflow}")
                };
                Matcher::regex(&format!("^https://{full}"))
                    .map_err(|e| format!("signer workflow {workflow:?}: {e}"))?
            }
            (None, Some(signer_repo)) => Matcher::regex(&format!(
                "(?i)^https://github\\.com/{}/",
                regex::escape(signer_repo)
            ))
            .expect("escaped"),
            (None, None) => Matcher::regex(&format!(
                "(?i)^https://github\\.com/{}/",
                regex::escape(self.repo.as_deref().unwrap_or(&owner))
            ))
            .expect("escaped"),
        };
        let mut extensions = vec![(
            fulcio::SOURCE_REPOSITORY_OWNER_URI,
            exact_ignoring_case(&format!("https://github.com/{owner}")),
        )];
        if let Some(repo) = &self.repo {
            extensions.push((
                fulcio::SOURCE_REPOSITORY_URI,
                exact_ignoring_case(&format!("https://github.com/{repo}")),
            ));
        }
        if self.deny_self_hosted_runners {
            extensions.push((
                fulcio::RUNNER_ENVIRONMENT,
                Matcher::Exact("github-hosted".into()),
            ));
        }
        Ok(IdentityRule {
            issuer: exact_ignoring_case(self.cert_oidc_issuer.as_deref().unwrap_or(ACTIONS_ISSUER)),
            subject,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(owner: Option<&str>, repo: Option<&str>) -> GitHubPolicy {
        GitHubPolicy {
            owner: owner.map(String::from),
            repo: repo.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn rules_follow_gh() {
        let r = policy(Some("sigstore"), None).rule().unwrap();
        assert!(
            r.subject
                .matches("https://github.com/sigstore/x/.github/workflows/r.yml@refs/heads/main")
        );
        assert!(
            r.subject
                .matches("https://github.com/SigStore/x/.github/workflows/r.yml@refs/heads/main")
        );
        assert!(
            !r.subject
                .matches("https://github.com/sigstorex/x/.github/workflows/r.yml")
        );
        assert!(
            !r.subject
                .matches("https://evil.example/https://github.com/sigstore/")
        );
        assert!(r.issuer.matches(ACTIONS_ISSUER));
        assert!(
            !r.issuer
                .matches("https://token.actions.githubusercontent.com.evil")
        );
        assert_eq!(r.extensions.len(), 1);
        assert!(r.extensions[0].1.matches("https://github.com/Sigstore"));
        assert!(
            !r.extensions[0]
                .1
                .matches("https://github.com/sigstore-fake")
        );

        let r = policy(None, Some("sigstore/sigstore-js")).rule().unwrap();
        assert_eq!(r.extensions.len(), 2);
        assert!(
            r.extensions[1]
                .1
                .matches("https://github.com/sigstore/sigstore-js")
        );
        assert!(
            !r.extensions[1]
                .1
                .matches("https://github.com/sigstore/sigstore-jsx")
        );
        assert!(r.subject.matches(
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/tags/v1"
        ));
        assert!(
            !r.subject
                .matches("https://github.com/sigstore/other/.github/workflows/release.yml")
        );

        let reusable = GitHubPolicy {
            signer_workflow: Some("slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml".into()),
            ..policy(Some("sigstore"), None)
        }
        .rule()
        .unwrap();
        assert!(reusable.subject.matches("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0"));
        let hosted = GitHubPolicy {
            signer_repo: Some("org/shared".into()),
            deny_self_hosted_runners: true,
            cert_oidc_issuer: Some("https://token.actions.acme.ghe.com".into()),
            ..policy(Some("org"), None)
        }
        .rule()
        .unwrap();
        assert!(
            hosted
                .subject
                .matches("https://github.com/org/shared/.github/workflows/b.yml@refs/heads/main")
        );
        assert!(hosted.issuer.matches("https://token.actions.acme.ghe.com"));
        assert_eq!(hosted.extensions.len(), 2);
    }

    #[test]
    fn bad_policies_name_what_is_wrong() {
        for (p, want) in [
            (policy(None, None), "name the owner"),
            (policy(Some("a/b"), None), "not a GitHub owner"),
            (policy(None, Some("a")), "not OWNER/REPO"),
            (policy(Some("x"), Some("y/z")), "not owned by"),
            (
                GitHubPolicy {
                    signer_repo: Some("a/b".into()),
                    signer_workflow: Some("a/b/.github/workflows/c.yml".into()),
                    ..policy(Some("a"), None)
                },
                "at most one",
            ),
            (
                GitHubPolicy {
                    signer_workflow: Some("a/(b".into()),
                    ..policy(Some("a"), None)
                },
                "signer workflow",
            ),
        ] {
            let e = p.rule().unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
