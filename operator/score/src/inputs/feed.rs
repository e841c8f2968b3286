//! Advisory feed snapshots: OSV-style advisories, or the compact one-range
//! form of `examples/inputs/feed.json`, indexed by package for matching.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use crate::error::{InputError, InputKind, Reason};
use crate::json::{Path, Reader, Result};
use crate::number::{Cvss, read_cvss};
use crate::purl::{PackageKey, Purl, PurlError};
use crate::version::{GenericVersion, SemVer};

/// One advisory: which package versions it affects and how severe it is.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    /// Other names of the same vulnerability (e.g. the CVE of a GHSA), sorted.
    pub aliases: Vec<String>,
    pub cvss: Cvss,
    pub affected: Vec<Affected>,
}

impl Advisory {
    /// The id and the aliases: every name a VEX statement may use for it.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// The affected versions of one package.
#[derive(Debug, Clone)]
pub struct Affected {
    pub package: PackageKey,
    pub ranges: Vec<Range>,
    /// Exact version strings, compared byte for byte.
    pub versions: Vec<String>,
}

/// How the versions of a range are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Semver,
    Ecosystem,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Semver => "SEMVER",
            Scheme::Ecosystem => "ECOSYSTEM",
        }
    }
}

/// An OSV range: events sorted by version, evaluated as OSV specifies.
#[derive(Debug, Clone)]
pub struct Range {
    pub scheme: Scheme,
    events: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    Introduced,
    Fixed,
    LastAffected,
}

#[derive(Debug, Clone)]
struct Event {
    kind: EventKind,
    bound: Bound,
}

#[derive(Debug, Clone)]
enum Bound {
    /// `introduced: "0"`: before every version.
    Zero,
    /// `semver` is set in `SEMVER` ranges; `generic` always, for components
    /// whose version is not semver.
    Version {
        semver: Option<SemVer>,
        generic: GenericVersion,
    },
}

/// A component version in every form a range may compare it in.
pub(crate) struct VersionForms<'a> {
    pub raw: &'a str,
    pub semver: Option<SemVer>,
    pub generic: Option<GenericVersion>,
}

impl<'a> VersionForms<'a> {
    pub fn new(raw: &'a str) -> Self {
        Self {
            raw,
            semver: SemVer::parse_lenient(raw),
            generic: GenericVersion::parse(raw).ok(),
        }
    }
}

impl Range {
    /// Whether `version` is in the range. A `SEMVER` range compares a
    /// component version that is not semver with the generic comparison; a
    /// version that has no generic form either is in no range.
    pub(crate) fn contains(&self, version: &VersionForms) -> bool {
        match (self.scheme, &version.semver, &version.generic) {
            (Scheme::Semver, Some(v), _) => walk(self.events.iter(), |b| match b {
                Bound::Version {
                    semver: Some(s), ..
                } => v.cmp(s),
                _ => Ordering::Greater,
            }),
            (_, _, Some(v)) => {
                let mut events: Vec<&Event> = self.events.iter().collect();
                if self.scheme == Scheme::Semver {
                    // Sorted by semver precedence; the walk needs generic order.
                    events.sort_by(|a, b| cmp_events(Scheme::Ecosystem, a, b));
                }
                walk(events.into_iter(), |b| match b {
                    Bound::Version { generic, .. } => v.cmp(generic),
                    Bound::Zero => Ordering::Greater,
                })
            }
            _ => false,
        }
    }
}

/// OSV's evaluation: walk the events in version order; the last one at or
/// below the version decides.
fn walk<'e>(
    events: impl Iterator<Item = &'e Event>,
    version_vs: impl Fn(&Bound) -> Ordering,
) -> bool {
    let mut affected = false;
    for event in events {
        let order = version_vs(&event.bound);
        match event.kind {
            EventKind::Introduced if order != Ordering::Less => affected = true,
            EventKind::Fixed if order != Ordering::Less => affected = false,
            EventKind::LastAffected if order == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    affected
}

fn cmp_bounds(scheme: Scheme, a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Zero, Bound::Zero) => Ordering::Equal,
        (Bound::Zero, _) => Ordering::Less,
        (_, Bound::Zero) => Ordering::Greater,
        (
            Bound::Version {
                semver: sa,
                generic: ga,
            },
            Bound::Version {
                semver: sb,
                generic: gb,
            },
        ) => match (scheme, sa, sb) {
            (Scheme::Semver, Some(sa), Some(sb)) => sa.cmp(sb),
            _ => ga.cmp(gb),
        },
    }
}

/// Version order, then introduced before fixed before last_affected, so that
/// the order of `events` in the input never matters.
fn cmp_events(scheme: Scheme, a: &Event, b: &Event) -> Ordering {
    cmp_bounds(scheme, &a.bound, &b.bound).then(a.kind.cmp(&b.kind))
}

impl Affected {
    pub(crate) fn contains(&self, version: &VersionForms) -> bool {
        self.versions.iter().any(|v| v == version.raw)
            || self.ranges.iter().any(|r| r.contains(version))
    }
}

/// A feed snapshot: advisories sorted by id, indexed by package.
#[derive(Debug, Clone)]
pub struct Feed {
    pub digest: Sha256Digest,
    /// Without withdrawn advisories.
    pub advisories: Vec<Advisory>,
    /// Package → (advisory index, affected index), in advisory order.
    index: BTreeMap<PackageKey, Vec<(usize, usize)>>,
}

const READER: Reader = Reader {
    kind: InputKind::Feed,
};

impl Feed {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed feed whose content id is `digest`.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        let at = root.member("advisories");
        let list = READER.array(READER.required(top, "advisories", &root)?, &at)?;
        let mut parsed = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let (advisory, withdrawn) = advisory(item, &at.index(i))?;
            parsed.push((advisory, withdrawn, i));
        }
        parsed.sort_by(|a, b| a.0.id.cmp(&b.0.id).then(a.2.cmp(&b.2)));
        if let Some(pair) = parsed.windows(2).find(|w| w[0].0.id == w[1].0.id) {
            let (first, second) = (pair[0].2, pair[1].2);
            let first = at.index(first);
            return Err(READER.fail(
                &at.index(second).member("id"),
                Reason::Duplicate {
                    what: "advisory id",
                    value: pair[1].0.id.clone(),
                    first: first.member("id").pointer(),
                },
            ));
        }
        let advisories: Vec<Advisory> = parsed
            .into_iter()
            .filter(|(_, withdrawn, _)| !withdrawn)
            .map(|(a, _, _)| a)
            .collect();
        let mut index: BTreeMap<PackageKey, Vec<(usize, usize)>> = BTreeMap::new();
        for (a, advisory) in advisories.iter().enumerate() {
            for (f, affected) in advisory.affected.iter().enumerate() {
                index
                    .entry(affected.package.clone())
                    .or_default()
                    .push((a, f));
            }
        }
        Ok(Self {
            digest,
            advisories,
            index,
        })
    }

    /// The advisories (with the matching affected entry) that name `package`,
    /// in advisory id order; an advisory with several entries for the package
    /// appears once per entry, consecutively.
    pub(crate) fn candidates(
        &self,
        package: &PackageKey,
    ) -> impl Iterator<Item = (usize, &Advisory, &Affected)> {
        self.index
            .get(package)
            .into_iter()
            .flatten()
            .map(|&(a, f)| (a, &self.advisories[a], &self.advisories[a].affected[f]))
    }
}

/// One advisory as OSV publishes it, one per file (feed containers, see
/// [`crate::inputs::container`]): errors point into that advisory. Returns
/// whether it is withdrawn.
pub fn parse_osv_file(value: &Value) -> Result<(Advisory, bool)> {
    advisory(value, &Path::Root)
}

impl Feed {
    /// A feed of advisories parsed one by one, whose ids the caller has
    /// checked to be unique, addressed by `digest`. Withdrawn ones are dropped.
    pub(crate) fn from_parsed(mut parsed: Vec<(Advisory, bool)>, digest: Sha256Digest) -> Self {
        parsed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        let advisories: Vec<Advisory> = parsed
            .into_iter()
            .filter(|(_, withdrawn)| !withdrawn)
            .map(|(a, _)| a)
            .collect();
        let mut index: BTreeMap<PackageKey, Vec<(usize, usize)>> = BTreeMap::new();
        for (a, advisory) in advisories.iter().enumerate() {
            for (f, affected) in advisory.affected.iter().enumerate() {
                index
                    .entry(affected.package.clone())
                    .or_default()
                    .push((a, f));
            }
        }
        Self {
            digest,
            advisories,
            index,
        }
    }
}

fn advisory(value: &Value, at: &Path) -> Result<(Advisory, bool)> {
    let obj = READER.object(value, at)?;
    let id = READER
        .string(READER.required(obj, "id", at)?, &at.member("id"))?
        .to_string();
    let mut aliases: Vec<String> = READER
        .strings(obj, "aliases", at)?
        .into_iter()
        .map(str::to_string)
        .collect();
    aliases.sort();
    aliases.dedup();
    let withdrawn = match obj.get("withdrawn") {
        Some(w) => {
            READER.string(w, &at.member("withdrawn"))?;
            true
        }
        None => false,
    };
    let cvss = match (obj.get("cvss"), obj.get("severity")) {
        (Some(_), Some(_)) => {
            return Err(READER.fail(
                at,
                Reason::Rule("give either \"cvss\" or \"severity\", not both"),
            ));
        }
        (Some(cvss), None) => read_cvss(&READER, cvss, &at.member("cvss"))?,
        (None, Some(severity)) => highest_severity(severity, &at.member("severity"))?,
        (None, None) => return Err(READER.fail(at, Reason::Missing { member: "cvss" })),
    };
    let affected = match (obj.get("affected"), obj.get("package")) {
        (Some(_), Some(_)) => {
            return Err(READER.fail(
                at,
                Reason::Rule("give either \"affected\" or the compact \"package\" form, not both"),
            ));
        }
        (Some(list), None) => {
            let at = at.member("affected");
            let list = READER.array(list, &at)?;
            if list.is_empty() {
                return Err(READER.fail(&at, Reason::Empty));
            }
            list.iter()
                .enumerate()
                .map(|(i, item)| affected(item, &at.index(i)))
                .collect::<Result<Vec<_>>>()?
        }
        (None, Some(package)) => vec![compact(obj, package, at)?],
        (None, None) => return Err(READER.fail(at, Reason::Missing { member: "affected" })),
    };
    let advisory = Advisory {
        id,
        aliases,
        cvss,
        affected,
    };
    Ok((advisory, withdrawn))
}

/// OSV `severity`: `[{"type": …, "score": "7.5"}]`. The highest base score counts.
fn highest_severity(value: &Value, at: &Path) -> Result<Cvss> {
    let list = READER.array(value, at)?;
    if list.is_empty() {
        return Err(READER.fail(at, Reason::Empty));
    }
    let mut highest = Cvss::ZERO;
    for (i, item) in list.iter().enumerate() {
        let at = at.index(i);
        let entry = READER.object(item, &at)?;
        if let Some(kind) = entry.get("type") {
            READER.string(kind, &at.member("type"))?;
        }
        let score = READER.required(entry, "score", &at)?;
        highest = highest.max(read_cvss(&READER, score, &at.member("score"))?);
    }
    Ok(highest)
}

fn affected(value: &Value, at: &Path) -> Result<Affected> {
    let obj = READER.object(value, at)?;
    let package_at = at.member("package");
    let package = READER.object(READER.required(obj, "package", at)?, &package_at)?;
    let package = package_key(package, &package_at)?;
    let mut ranges = Vec::new();
    let mut any_range = false;
    if let Some(list) = obj.get("ranges") {
        let at = at.member("ranges");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            any_range = true;
            if let Some(range) = range(item, &at.index(i))? {
                ranges.push(range);
            }
        }
    }
    let versions: Vec<String> = READER
        .strings(obj, "versions", at)?
        .into_iter()
        .map(str::to_string)
        .collect();
    if !any_range && versions.is_empty() {
        return Err(READER.fail(
            at,
            Reason::Rule("an affected entry needs \"ranges\" or \"versions\""),
        ));
    }
    Ok(Affected {
        package,
        ranges,
        versions,
    })
}

/// `package.purl` (without version), or `package.ecosystem` with `package.name`.
fn package_key(package: &Map<String, Value>, at: &Path) -> Result<PackageKey> {
    if let Some(purl) = package.get("purl") {
        let at = at.member("purl");
        let text = READER.string(purl, &at)?;
        return Purl::parse_package(text).map_err(|error| {
            READER.fail(
                &at,
                Reason::Purl {
                    text: text.to_string(),
                    error,
                },
            )
        });
    }
    let ecosystem = READER.string(
        READER.required(package, "ecosystem", at)?,
        &at.member("ecosystem"),
    )?;
    let name = READER.string(READER.required(package, "name", at)?, &at.member("name"))?;
    PackageKey::from_ecosystem(ecosystem, name).map_err(|error| {
        let member = match error {
            PurlError::UnknownEcosystem(_) => "ecosystem",
            _ => "name",
        };
        READER.fail(
            &at.member(member),
            Reason::Purl {
                text: format!("{ecosystem}/{name}"),
                error,
            },
        )
    })
}

const EVENT_KINDS: [(&str, EventKind); 3] = [
    ("introduced", EventKind::Introduced),
    ("fixed", EventKind::Fixed),
    ("last_affected", EventKind::LastAffected),
];

/// An OSV range; `None` for `GIT` ranges, which name commits, not versions.
fn range(value: &Value, at: &Path) -> Result<Option<Range>> {
    let obj = READER.object(value, at)?;
    let type_at = at.member("type");
    let scheme = match READER.string(READER.required(obj, "type", at)?, &type_at)? {
        "SEMVER" => Some(Scheme::Semver),
        "ECOSYSTEM" => Some(Scheme::Ecosystem),
        "GIT" => None,
        other => {
            return Err(READER.fail(
                &type_at,
                Reason::UnknownValue {
                    value: other.to_string(),
                    expected: "\"SEMVER\", \"ECOSYSTEM\" or \"GIT\"",
                },
            ));
        }
    };
    let events_at = at.member("events");
    let list = READER.array(READER.required(obj, "events", at)?, &events_at)?;
    if list.is_empty() {
        return Err(READER.fail(&events_at, Reason::Empty));
    }
    let mut events = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = events_at.index(i);
        let event = READER.object(item, &at)?;
        let mut members = event.iter();
        let (Some((key, text)), None) = (members.next(), members.next()) else {
            return Err(READER.fail(
                &at,
                Reason::Rule(
                    "an event has exactly one member: \"introduced\", \"fixed\" or \"last_affected\"",
                ),
            ));
        };
        let Some(&(_, kind)) = EVENT_KINDS.iter().find(|(name, _)| name == key) else {
            return Err(READER.fail(
                &at,
                if key == "limit" {
                    Reason::Rule("\"limit\" events are not supported")
                } else {
                    Reason::UnknownMember {
                        member: key.clone(),
                        allowed: "introduced, fixed, last_affected",
                    }
                },
            ));
        };
        let at = at.member(key);
        let text = READER.string(text, &at)?;
        if let Some(scheme) = scheme {
            events.push(Event {
                kind,
                bound: bound(scheme, kind, text, &at)?,
            });
        }
    }
    match scheme {
        Some(scheme) => finish_range(scheme, events, at).map(Some),
        None => Ok(None),
    }
}

fn finish_range(scheme: Scheme, mut events: Vec<Event>, at: &Path) -> Result<Range> {
    if !events.iter().any(|e| e.kind == EventKind::Introduced) {
        return Err(READER.fail(at, Reason::Rule("a range needs an \"introduced\" event")));
    }
    events.sort_by(|a, b| cmp_events(scheme, a, b));
    Ok(Range { scheme, events })
}

fn bound(scheme: Scheme, kind: EventKind, text: &str, at: &Path) -> Result<Bound> {
    if kind == EventKind::Introduced && text == "0" {
        return Ok(Bound::Zero);
    }
    let fail = |error| {
        READER.fail(
            at,
            Reason::Version {
                scheme: scheme.name(),
                text: text.to_string(),
                error,
            },
        )
    };
    let semver = match scheme {
        Scheme::Semver => Some(SemVer::parse(text).map_err(fail)?),
        Scheme::Ecosystem => None,
    };
    let generic = GenericVersion::parse(text).map_err(fail)?;
    Ok(Bound::Version { semver, generic })
}

/// The compact form: `package` (a purl without version) with `introduced`,
/// `fixed`, `last_affected` and `versions` at the advisory's top level, and
/// an optional `rangeType` (default `ECOSYSTEM`).
fn compact(obj: &Map<String, Value>, package: &Value, at: &Path) -> Result<Affected> {
    let package_at = at.member("package");
    let text = READER.string(package, &package_at)?;
    let package = Purl::parse_package(text).map_err(|error| {
        READER.fail(
            &package_at,
            Reason::Purl {
                text: text.to_string(),
                error,
            },
        )
    })?;
    let scheme = match obj.get("rangeType") {
        None => Scheme::Ecosystem,
        Some(value) => {
            let type_at = at.member("rangeType");
            match READER.string(value, &type_at)? {
                "SEMVER" => Scheme::Semver,
                "ECOSYSTEM" => Scheme::Ecosystem,
                other => {
                    return Err(READER.fail(
                        &type_at,
                        Reason::UnknownValue {
                            value: other.to_string(),
                            expected: "\"SEMVER\" or \"ECOSYSTEM\"",
                        },
                    ));
                }
            }
        }
    };
    let mut events = Vec::new();
    for (name, kind) in EVENT_KINDS {
        if let Some(value) = obj.get(name) {
            let at = at.member(name);
            let text = READER.string(value, &at)?;
            events.push(Event {
                kind,
                bound: bound(scheme, kind, text, &at)?,
            });
        }
    }
    let versions: Vec<String> = READER
        .strings(obj, "versions", at)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let ranges = if events.is_empty() {
        if versions.is_empty() {
            return Err(READER.fail(
                at,
                Reason::Rule("a compact advisory needs \"introduced\" or \"versions\""),
            ));
        }
        Vec::new()
    } else {
        vec![finish_range(scheme, events, at)?]
    };
    Ok(Affected {
        package,
        ranges,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(scheme: &str, events: Value) -> Range {
        let value = serde_json::json!({"type": scheme, "events": events});
        super::range(&value, &Path::Root).unwrap().unwrap()
    }

    fn contains(range: &Range, version: &str) -> bool {
        range.contains(&VersionForms::new(version))
    }

    #[test]
    fn osv_range_evaluation() {
        let r = range(
            "SEMVER",
            serde_json::json!([
                {"fixed": "2.5.0"}, {"introduced": "1.0.0"}, {"fixed": "1.5.0"},
                {"introduced": "2.0.0-rc.1"}
            ]),
        );
        for (version, expected) in [
            ("0.9.0", false),
            ("1.0.0-alpha", false),
            ("1.0.0", true),
            ("1.4.9", true),
            ("1.5.0", false),
            ("2.0.0-beta", false),
            ("2.0.0-rc.1", true),
            ("2.0.0", true),
            ("v2.4.0", true),
            ("2.5.0", false),
            // Not semver: compared generically.
            ("1.2", true),
            ("1.5", false),
        ] {
            assert_eq!(contains(&r, version), expected, "{version}");
        }
    }

    #[test]
    fn last_affected_is_inclusive() {
        let r = range(
            "ECOSYSTEM",
            serde_json::json!([{"introduced": "0"}, {"last_affected": "1.4"}]),
        );
        assert!(contains(&r, "0.1"));
        assert!(contains(&r, "1.4"));
        assert!(contains(&r, "1.4.0"));
        assert!(!contains(&r, "1.4.1"));
        assert!(!contains(&r, "1.4 beta"), "no generic form: in no range");
    }
}
