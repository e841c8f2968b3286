//! The four scoring inputs, each read strictly and addressed by its content id.

pub mod container;
mod csaf;
mod cyclonedx_vex;
pub mod feed;
pub mod policy;
pub mod sbom;
mod spdx;
pub mod vex;

use attestor_core::bundle::ManifestInputs;

use crate::error::InputError;
use feed::Feed;
use policy::Policy;
use sbom::Sbom;
use vex::Vex;

/// Everything a score is computed from.
#[derive(Debug, Clone)]
pub struct ScoringInputs {
    pub sbom: Sbom,
    pub feed: Feed,
    pub vex: Vex,
    pub policy: Policy,
}

impl ScoringInputs {
    /// Parses the four documents (bytes as stored or fetched). The feed may
    /// be in any form [`container::load_bytes`] reads (a ZIP of OSV files, YAML, …).
    pub fn parse(sbom: &[u8], feed: &[u8], vex: &[u8], policy: &[u8]) -> Result<Self, InputError> {
        Ok(Self {
            sbom: Sbom::parse(sbom)?,
            feed: container::load_bytes(feed, &container::FeedLimits::default())?.feed,
            vex: Vex::parse(vex)?,
            policy: Policy::parse(policy)?,
        })
    }

    /// The content ids of the four documents, as `manifest.json` names them.
    ///
    /// These are what the `inputs` node records: each is the SHA-256 of the
    /// canonical bytes of the document's normal form ([`crate::normalize`]),
    /// so reordering unordered arrays does not change them.
    pub fn digests(&self) -> ManifestInputs {
        ManifestInputs {
            sbom: self.sbom.digest,
            feed_snapshot: self.feed.digest,
            vex: self.vex.digest,
            policy: self.policy.digest,
        }
    }
}
