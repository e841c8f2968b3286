//! CycloneDX JSON SBOMs: the components to score, identified by package URL.

use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use crate::error::{InputError, InputKind, Reason};
use crate::json::{Path, Reader, Result};
use crate::purl::Purl;

/// One component to score: a package at a version, deduplicated by canonical purl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub purl: Purl,
    /// `purl` in canonical form: what match nodes record and what orders them.
    pub canonical: String,
}

impl Component {
    pub fn version(&self) -> Option<&str> {
        self.purl.version.as_deref()
    }
}

/// The components of a CycloneDX SBOM, sorted by canonical purl, without duplicates.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub digest: Sha256Digest,
    pub components: Vec<Component>,
}

const READER: Reader = Reader {
    kind: InputKind::Sbom,
};

impl Sbom {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed SBOM whose content id is `digest`.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        let format = READER.required(top, "bomFormat", &root)?;
        let at = root.member("bomFormat");
        if READER.string(format, &at)? != "CycloneDX" {
            return Err(READER.fail(
                &at,
                Reason::UnknownValue {
                    value: format.as_str().unwrap_or_default().to_string(),
                    expected: "\"CycloneDX\"",
                },
            ));
        }
        if let Some(spec) = top.get("specVersion") {
            READER.string(spec, &root.member("specVersion"))?;
        }
        let mut components = Vec::new();
        collect(top, &root, &mut components)?;
        // Set semantics: the order of `components` and repeated entries carry no meaning.
        components.sort_by(|a: &Component, b| a.canonical.cmp(&b.canonical));
        // A `distro`, `upstream` or `epoch` qualifier survives only if every spelling agrees on it,
        // so the result does not depend on which spelling came first.
        components.dedup_by(|later, kept| {
            if later.canonical != kept.canonical {
                return false;
            }
            if later.purl.distro != kept.purl.distro {
                kept.purl.distro = None;
            }
            if later.purl.upstream != kept.purl.upstream {
                kept.purl.upstream = None;
            }
            if later.purl.epoch != kept.purl.epoch {
                kept.purl.epoch = None;
            }
            true
        });
        Ok(Self { digest, components })
    }
}

/// Collects the components of `parent.components`, depth first. Recursion is
/// bounded by the strict parser's nesting limit.
fn collect(parent: &Map<String, Value>, at: &Path, out: &mut Vec<Component>) -> Result<()> {
    let Some(list) = parent.get("components") else {
        return Ok(());
    };
    let at = at.member("components");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        let component = READER.object(item, &at)?;
        if let Some(purl) = component.get("purl") {
            let purl_at = at.member("purl");
            let text = READER.string(purl, &purl_at)?;
            let mut purl = Purl::parse(text).map_err(|error| {
                READER.fail(
                    &purl_at,
                    Reason::Purl {
                        text: text.to_string(),
                        error,
                    },
                )
            })?;
            if purl.version.is_none()
                && let Some(version) = component.get("version")
            {
                purl.version = Some(READER.string(version, &at.member("version"))?.to_string());
            }
            out.push(Component {
                canonical: purl.to_string(),
                purl,
            });
        }
        collect(component, &at, out)?;
    }
    Ok(())
}
