//! Advisory feed snapshots: OSV advisories as OSV publishes them (one JSON
//! object per advisory, <https://ossf.github.io/osv-schema/>), or the
//! compact one-range form of `examples/inputs/feed.json`, indexed by package
//! for matching.
//!
//! One parse serves both score versions: each advisory keeps what score
//! version 1 read (its generic and SemVer bounds, its decimal CVSS score)
//! beside what version 2 reads (per-ecosystem versions, CVSS vectors,
//! ratings), and notes the first feature version 1 did not accept, so that
//! a version 1 replay refuses exactly the inputs version 1 refused.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use crate::compare::{Comparator, Key};
use crate::ecosystem::Ecosystem;
use crate::error::{InputError, InputKind, Reason};
use crate::json::{Path, Reader, Result};
use crate::number::{Band, Cvss, read_cvss};
use crate::purl::{PackageKey, Purl, PurlError};
use crate::severity::{self, Severity, Source};
use crate::version::{GenericVersion, SemVer};

/// One advisory: which package versions it affects and how severe it is.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    /// Other names of the same vulnerability (e.g. the CVE of a GHSA), sorted.
    pub aliases: Vec<String>,
    /// OSV `modified`, when given (not used in scoring).
    pub modified: Option<String>,
    /// OSV `withdrawn` is present: the advisory is read and checked, then ignored.
    pub withdrawn: bool,
    /// The severity score version 2 uses.
    pub severity: Severity,
    pub affected: Vec<Affected>,
    /// Parts that cannot take part in matching or scoring, and why.
    pub skipped: Vec<Skipped>,
    /// The base score score version 1 uses (meaningful when `beyond_v1` is `None`).
    pub(crate) v1_cvss: Cvss,
    /// The first feature of this advisory that score version 1 refused.
    pub(crate) beyond_v1: Option<&'static str>,
}

impl Advisory {
    /// The id and the aliases: every name a VEX statement may use for it.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A part of an advisory left out of matching or scoring: a `GIT` range, an
/// ecosystem without a package URL mapping, a version the ecosystem's rules
/// cannot read, a severity that cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// RFC 6901 pointer into the advisory.
    pub pointer: String,
    pub reason: String,
}

/// The affected versions of one package.
#[derive(Debug, Clone)]
pub struct Affected {
    pub package: PackageKey,
    /// How `ECOSYSTEM` ranges and `versions` compare (score version 2).
    pub comparator: Comparator,
    /// The distribution release the entry is limited to (`Debian:12` → `12`).
    pub release: Option<String>,
    pub ranges: Vec<Range>,
    /// Exact version strings.
    pub versions: Vec<String>,
    /// `versions` read by `comparator` (`None` where it cannot read one).
    version_keys: Vec<Option<Key>>,
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
    /// As score version 1 reads it; `None` where it could not.
    v1: Option<Vec<Event>>,
    /// As score version 2 reads it; `None` (and a [`Skipped`]) where an
    /// event is not a version of the comparator.
    v2: Option<Range2>,
}

#[derive(Debug, Clone)]
struct Range2 {
    comparator: Comparator,
    /// Sorted by version, `introduced: "0"` first.
    events: Vec<Event2>,
    /// `limit` events other than `*`: versions at or above one are outside.
    limits: Vec<Key>,
}

#[derive(Debug, Clone)]
struct Event2 {
    kind: EventKind,
    /// `None` for `introduced: "0"`.
    bound: Option<Key>,
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

/// A component version in every form a score version 1 range may compare it in.
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

/// A component version read by each comparator at most once (score version 2).
pub(crate) struct ComponentVersion<'a> {
    pub raw: &'a str,
    keys: Vec<(Comparator, Option<Key>)>,
}

impl<'a> ComponentVersion<'a> {
    pub fn new(raw: &'a str) -> Self {
        Self {
            raw,
            keys: Vec::new(),
        }
    }

    fn key(&mut self, comparator: Comparator) -> Option<&Key> {
        let i = match self.keys.iter().position(|(c, _)| *c == comparator) {
            Some(i) => i,
            None => {
                self.keys
                    .push((comparator, comparator.parse(self.raw).ok()));
                self.keys.len() - 1
            }
        };
        self.keys[i].1.as_ref()
    }
}

impl Range {
    /// Score version 1: whether `version` is in the range. A `SEMVER` range
    /// compares a component version that is not semver with the generic
    /// comparison; a version that has no generic form either is in no range.
    pub(crate) fn contains(&self, version: &VersionForms) -> bool {
        let Some(events) = &self.v1 else {
            return false;
        };
        match (self.scheme, &version.semver, &version.generic) {
            (Scheme::Semver, Some(v), _) => walk(events.iter().map(|e| {
                let order = match &e.bound {
                    Bound::Version {
                        semver: Some(s), ..
                    } => v.cmp(s),
                    _ => Ordering::Greater,
                };
                (e.kind, order)
            })),
            (_, _, Some(v)) => {
                let mut events: Vec<&Event> = events.iter().collect();
                if self.scheme == Scheme::Semver {
                    // Sorted by semver precedence; the walk needs generic order.
                    events.sort_by(|a, b| cmp_events(Scheme::Ecosystem, a, b));
                }
                walk(events.into_iter().map(|e| {
                    let order = match &e.bound {
                        Bound::Version { generic, .. } => v.cmp(generic),
                        Bound::Zero => Ordering::Greater,
                    };
                    (e.kind, order)
                }))
            }
            _ => false,
        }
    }

    /// Score version 2: the comparator, if `version` is in the range.
    fn contains_v2(&self, version: &mut ComponentVersion) -> Option<Comparator> {
        let range = self.v2.as_ref()?;
        let key = version.key(range.comparator)?;
        if range.limits.iter().any(|limit| key >= limit) {
            return None;
        }
        let affected = walk(range.events.iter().map(|e| {
            let order = e.bound.as_ref().map_or(Ordering::Greater, |b| key.cmp(b));
            (e.kind, order)
        }));
        affected.then_some(range.comparator)
    }
}

/// OSV's evaluation: walk the events in version order (each with how the
/// version compares to it); the last one at or below the version decides.
fn walk(events: impl Iterator<Item = (EventKind, Ordering)>) -> bool {
    let mut affected = false;
    for (kind, order) in events {
        match kind {
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

fn cmp_events2(a: &Event2, b: &Event2) -> Ordering {
    match (&a.bound, &b.bound) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
    .then(a.kind.cmp(&b.kind))
}

impl Affected {
    /// Score version 1: `versions` byte for byte, or a range.
    pub(crate) fn contains(&self, version: &VersionForms) -> bool {
        self.versions.iter().any(|v| v == version.raw)
            || self.ranges.iter().any(|r| r.contains(version))
    }

    /// Score version 2: the comparator that decided, if `version` is
    /// affected: a `versions` entry equal byte for byte or equal in the
    /// entry's order (`v1.2.3` is Go's `1.2.3`), or a range. When several
    /// contain it, the first comparator in [`Comparator`] order, so that
    /// the order of ranges never matters.
    pub(crate) fn matches(&self, version: &mut ComponentVersion) -> Option<Comparator> {
        let listed = self.versions.iter().any(|v| v == version.raw)
            || (self.version_keys.iter().any(Option::is_some)
                && version
                    .key(self.comparator)
                    .is_some_and(|key| self.version_keys.iter().flatten().any(|k| k == key)));
        let in_range = self
            .ranges
            .iter()
            .filter_map(|r| r.contains_v2(version))
            .min();
        match (listed.then_some(self.comparator), in_range) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
    /// The first advisory (by id, withdrawn ones included) that score version
    /// 1 refused, and why.
    beyond_v1: Option<(String, &'static str)>,
}

const READER: Reader = Reader {
    kind: InputKind::Feed,
};

/// Reads one OSV advisory, exactly as OSV publishes it (one JSON object per
/// advisory; unknown members are ignored). Errors point into the advisory.
pub fn parse_osv_advisory(bytes: &[u8]) -> std::result::Result<Advisory, InputError> {
    let (value, _) = READER.parse(bytes)?;
    osv_advisory_from_value(&value)
}

/// [`parse_osv_advisory`] for an already parsed advisory (e.g. from YAML).
pub fn osv_advisory_from_value(value: &Value) -> std::result::Result<Advisory, InputError> {
    advisory(value, &Path::Root)
}

impl Feed {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed `{"advisories": [...]}` document whose content id is `digest`.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        let at = root.member("advisories");
        let list = READER.array(READER.required(top, "advisories", &root)?, &at)?;
        let mut parsed = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            parsed.push((advisory(item, &at.index(i))?, i));
        }
        parsed.sort_by(|a, b| a.0.id.cmp(&b.0.id).then(a.1.cmp(&b.1)));
        if let Some(pair) = parsed.windows(2).find(|w| w[0].0.id == w[1].0.id) {
            let (first, second) = (pair[0].1, pair[1].1);
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
        Ok(Self::index(
            parsed.into_iter().map(|(a, _)| a).collect(),
            digest,
        ))
    }

    /// A feed of advisories read one by one ([`parse_osv_advisory`]), e.g.
    /// from a directory or ZIP of OSV files, whose content id is `digest`.
    /// Advisory ids must be unique.
    pub fn from_advisories(mut advisories: Vec<Advisory>, digest: Sha256Digest) -> Result<Self> {
        advisories.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = advisories.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(READER.fail(
                &Path::Root,
                Reason::Duplicate {
                    what: "advisory id",
                    value: pair[1].id.clone(),
                    first: "another advisory".to_string(),
                },
            ));
        }
        Ok(Self::index(advisories, digest))
    }

    /// `advisories` sorted by id, without duplicates.
    fn index(advisories: Vec<Advisory>, digest: Sha256Digest) -> Self {
        let beyond_v1 = advisories
            .iter()
            .find_map(|a| a.beyond_v1.map(|why| (a.id.clone(), why)));
        let advisories: Vec<Advisory> = advisories.into_iter().filter(|a| !a.withdrawn).collect();
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
            beyond_v1,
        }
    }

    /// The first advisory score version 1 could not read, and the feature.
    pub fn beyond_v1(&self) -> Option<(&str, &'static str)> {
        self.beyond_v1.as_ref().map(|(id, why)| (id.as_str(), *why))
    }

    /// Every part of every (not withdrawn) advisory left out of matching, by advisory id.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &Skipped)> {
        self.advisories
            .iter()
            .flat_map(|a| a.skipped.iter().map(move |s| (a.id.as_str(), s)))
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

/// One advisory as OSV publishes it, one per file (what feed containers
/// read): [`osv_advisory_from_value`], with whether it is withdrawn.
pub fn parse_osv_file(value: &Value) -> Result<(Advisory, bool)> {
    let advisory = advisory(value, &Path::Root)?;
    let withdrawn = advisory.withdrawn;
    Ok((advisory, withdrawn))
}

impl Feed {
    /// A feed of advisories parsed one by one ([`parse_osv_file`]), whose ids
    /// the caller has checked to be unique, addressed by `digest`. Withdrawn
    /// ones are dropped (after noting what score version 1 could not read).
    pub fn from_parsed(parsed: Vec<(Advisory, bool)>, digest: Sha256Digest) -> Self {
        let mut advisories: Vec<Advisory> = parsed.into_iter().map(|(a, _)| a).collect();
        advisories.sort_by(|a, b| a.id.cmp(&b.id));
        Self::index(advisories, digest)
    }
}

/// What reading one advisory collects besides its members.
#[derive(Default)]
struct Notes {
    skipped: Vec<Skipped>,
    beyond_v1: Option<&'static str>,
}

impl Notes {
    fn skip(&mut self, at: &Path, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            pointer: at.pointer(),
            reason: reason.into(),
        });
    }

    fn beyond_v1(&mut self, what: &'static str) {
        self.beyond_v1.get_or_insert(what);
    }
}

fn advisory(value: &Value, at: &Path) -> Result<Advisory> {
    let obj = READER.object(value, at)?;
    let mut notes = Notes::default();
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
    let modified = obj
        .get("modified")
        .and_then(Value::as_str)
        .map(str::to_string);
    let (v1_cvss, mut severity) = match (obj.get("cvss"), obj.get("severity")) {
        (Some(_), Some(_)) => {
            return Err(READER.fail(
                at,
                Reason::Rule("give either \"cvss\" or \"severity\", not both"),
            ));
        }
        (Some(cvss), None) => {
            let cvss = read_cvss(&READER, cvss, &at.member("cvss"))?;
            (
                cvss,
                Severity::Score {
                    cvss,
                    source: Source::Score,
                },
            )
        }
        (None, Some(list)) => {
            let at = at.member("severity");
            let v1 = v1_severity(list, &at);
            let v2 = severities(list, &at, &mut notes)?;
            let v1 = v1.unwrap_or_else(|why| {
                notes.beyond_v1(why);
                Cvss::ZERO
            });
            (v1, v2)
        }
        (None, None) => {
            notes.beyond_v1("an advisory without \"cvss\" or \"severity\"");
            (Cvss::ZERO, Severity::Unscored)
        }
    };
    if let Some(label) = database_severity(obj, at, &mut notes) {
        severity = severity.max(Severity::Label(label));
    }
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
                notes.beyond_v1("an empty \"affected\"");
            }
            let mut entries = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                let at = at.index(i);
                let entry_obj = READER.object(item, &at)?;
                if let Some(list) = entry_obj.get("severity") {
                    let found = severities(list, &at.member("severity"), &mut notes)?;
                    severity = severity.max(found);
                }
                if let Some(label) = entry_severity(entry_obj, &at, &mut notes) {
                    severity = severity.max(Severity::Label(label));
                }
                if let Some(entry) = affected(entry_obj, &at, &mut notes)? {
                    entries.push(entry);
                }
            }
            entries
        }
        (None, Some(package)) => vec![compact(obj, package, at)?],
        (None, None) => {
            notes.beyond_v1("an advisory without \"affected\"");
            Vec::new()
        }
    };
    Ok(Advisory {
        id,
        aliases,
        modified,
        withdrawn,
        severity,
        affected,
        skipped: notes.skipped,
        v1_cvss,
        beyond_v1: notes.beyond_v1,
    })
}

/// Score version 1's OSV `severity`: a non-empty array of
/// `{"type": …, "score": "7.5"}`, the highest base score counts.
fn v1_severity(value: &Value, at: &Path) -> std::result::Result<Cvss, &'static str> {
    const WHY: &str = "a \"severity\" that is not a non-empty list of decimal base scores";
    let list = value.as_array().ok_or(WHY)?;
    if list.is_empty() {
        return Err(WHY);
    }
    let mut highest = Cvss::ZERO;
    for (i, item) in list.iter().enumerate() {
        let at = at.index(i);
        let entry = item.as_object().ok_or(WHY)?;
        if let Some(kind) = entry.get("type") {
            READER.string(kind, &at.member("type")).map_err(|_| WHY)?;
        }
        let score = entry.get("score").ok_or(WHY)?;
        highest = highest.max(read_cvss(&READER, score, &at.member("score")).map_err(|_| WHY)?);
    }
    Ok(highest)
}

/// Score version 2's OSV `severity` (top-level or of an affected entry):
/// an array of `{"type", "score"}`, possibly empty; each entry a CVSS vector,
/// a decimal base score or an Ubuntu priority. Entries that cannot be read
/// are skipped with the reason; the most severe of the rest counts.
fn severities(value: &Value, at: &Path, notes: &mut Notes) -> Result<Severity> {
    let list = READER.array(value, at)?;
    let mut highest = Severity::Unscored;
    for (i, item) in list.iter().enumerate() {
        let at = at.index(i);
        let entry = READER.object(item, &at)?;
        let ty = match entry.get("type") {
            Some(kind) => Some(READER.string(kind, &at.member("type"))?),
            None => None,
        };
        let score_at = at.member("score");
        let (text, _) =
            READER.decimal_text(READER.required(entry, "score", &at)?, &score_at, true)?;
        match severity::entry(ty, &text) {
            Ok(found) => {
                if !matches!(
                    found,
                    Severity::Score {
                        source: Source::Score,
                        ..
                    }
                ) {
                    notes.beyond_v1("a CVSS vector or a rating in \"severity\"");
                }
                highest = highest.max(found);
            }
            Err(error) => {
                notes.beyond_v1("a CVSS vector or a rating in \"severity\"");
                notes.skip(&score_at, error.to_string());
            }
        }
    }
    Ok(highest)
}

/// `database_specific.severity` (GHSA's `LOW`, `MODERATE`, `HIGH`, `CRITICAL`).
fn database_severity(obj: &Map<String, Value>, at: &Path, notes: &mut Notes) -> Option<Band> {
    rating(obj, "database_specific", at, notes)
}

/// `ecosystem_specific.severity` or `database_specific.severity` of an affected entry.
fn entry_severity(obj: &Map<String, Value>, at: &Path, notes: &mut Notes) -> Option<Band> {
    let a = rating(obj, "ecosystem_specific", at, notes);
    let b = rating(obj, "database_specific", at, notes);
    a.max(b)
}

/// `<member>.severity` when it is a string rating. These objects are free
/// form: other shapes are not ratings and are ignored; unknown rating words
/// are skipped with the reason.
fn rating(obj: &Map<String, Value>, member: &str, at: &Path, notes: &mut Notes) -> Option<Band> {
    let text = obj.get(member)?.as_object()?.get("severity")?.as_str()?;
    notes.beyond_v1("a rating in \"database_specific\" or \"ecosystem_specific\"");
    match severity::label(text) {
        Ok(band) => Some(band),
        Err(error) => {
            notes.skip(&at.member(member).member("severity"), error.to_string());
            None
        }
    }
}

/// One affected entry; `None` when it names no package this engine can
/// match (recorded in `notes`).
fn affected(obj: &Map<String, Value>, at: &Path, notes: &mut Notes) -> Result<Option<Affected>> {
    let package_at = at.member("package");
    let Some(package) = obj.get("package") else {
        notes.beyond_v1("an affected entry without \"package\"");
        notes.skip(at, "no \"package\": nothing to match");
        check_ranges(obj, at)?;
        return Ok(None);
    };
    let package = READER.object(package, &package_at)?;
    let Some((package, comparator, release)) = package_key(package, &package_at, notes)? else {
        check_ranges(obj, at)?;
        return Ok(None);
    };
    let versions: Vec<String> = READER
        .strings(obj, "versions", at)?
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut ranges = Vec::new();
    let mut any_range = false;
    if let Some(list) = obj.get("ranges") {
        let at = at.member("ranges");
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            any_range = true;
            if let Some(range) = range(item, &at.index(i), comparator, notes)? {
                ranges.push(range);
            }
        }
    }
    if !any_range && versions.is_empty() {
        notes.beyond_v1("an affected entry without \"ranges\" or \"versions\"");
        notes.skip(at, "no \"ranges\" and no \"versions\": nothing to match");
        return Ok(None);
    }
    let version_keys = versions.iter().map(|v| comparator.parse(v).ok()).collect();
    Ok(Some(Affected {
        package,
        comparator,
        release,
        ranges,
        versions,
        version_keys,
    }))
}

/// Checks the shape of the ranges of an entry that is not matched, as
/// score version 1 did.
fn check_ranges(obj: &Map<String, Value>, at: &Path) -> Result<()> {
    if let Some(list) = obj.get("ranges") {
        let at = at.member("ranges");
        let mut notes = Notes::default();
        for (i, item) in READER.array(list, &at)?.iter().enumerate() {
            range(item, &at.index(i), Comparator::Generic, &mut notes)?;
        }
    }
    Ok(())
}

/// The package key, the comparator and the release of an OSV `package`:
/// `purl` (without version) and/or `ecosystem` with `name`. `None` (with
/// the reason in `notes`) for ecosystems without a package URL mapping.
fn package_key(
    package: &Map<String, Value>,
    at: &Path,
    notes: &mut Notes,
) -> Result<Option<(PackageKey, Comparator, Option<String>)>> {
    let ecosystem = match package.get("ecosystem") {
        Some(value) => Some(READER.string(value, &at.member("ecosystem"))?),
        None => None,
    };
    let known = ecosystem.map(|name| (name, Ecosystem::parse(name)));
    if let Some(purl) = package.get("purl") {
        let at = at.member("purl");
        let text = READER.string(purl, &at)?;
        let parsed = Purl::parse(text).map_err(|error| {
            READER.fail(
                &at,
                Reason::Purl {
                    text: text.to_string(),
                    error,
                },
            )
        })?;
        if parsed.version.is_some() {
            // Ubuntu's OSV records give the fixed package's purl with its
            // version: the package is what the entry names.
            notes.beyond_v1("a \"package.purl\" with a version");
        }
        let key = parsed.package;
        let (comparator, release) = match known {
            Some((_, Some(e))) => {
                if !e.in_v1 {
                    notes.beyond_v1("an ecosystem score version 1 did not know");
                }
                (e.comparator, e.release)
            }
            _ => (Comparator::of_purl_type(key.ty()), None),
        };
        return Ok(Some((key, comparator, release)));
    }
    let ecosystem = ecosystem.ok_or_else(|| {
        READER.fail(
            at,
            Reason::Missing {
                member: "ecosystem",
            },
        )
    })?;
    let name = READER.string(READER.required(package, "name", at)?, &at.member("name"))?;
    let Some(e) = Ecosystem::parse(ecosystem) else {
        notes.beyond_v1("an ecosystem score version 1 did not know");
        notes.skip(
            &at.member("ecosystem"),
            format!("ecosystem {ecosystem:?} has no package URL mapping: nothing to match"),
        );
        return Ok(None);
    };
    if !e.in_v1 {
        notes.beyond_v1("an ecosystem score version 1 did not know");
    }
    let key = e.package(name).map_err(|error| {
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
    })?;
    Ok(Some((key, e.comparator, e.release)))
}

const EVENT_KINDS: [(&str, EventKind); 3] = [
    ("introduced", EventKind::Introduced),
    ("fixed", EventKind::Fixed),
    ("last_affected", EventKind::LastAffected),
];

/// An OSV range; `None` for `GIT` ranges, which name commits, not versions
/// (recorded in `notes`). `comparator` is the entry's, for `ECOSYSTEM` ranges.
fn range(
    value: &Value,
    at: &Path,
    comparator: Comparator,
    notes: &mut Notes,
) -> Result<Option<Range>> {
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
    let comparator = match scheme {
        Some(Scheme::Semver) => Comparator::Semver,
        _ => comparator,
    };
    let mut v1_events = Some(Vec::with_capacity(list.len()));
    let mut v2_events = Some(Vec::with_capacity(list.len()));
    let mut limits = Vec::new();
    let mut introduced = false;
    for (i, item) in list.iter().enumerate() {
        let at = events_at.index(i);
        let event = READER.object(item, &at)?;
        let mut members = event.iter();
        let (Some((key, text)), None) = (members.next(), members.next()) else {
            return Err(READER.fail(
                &at,
                Reason::Rule(
                    "an event has exactly one member: \"introduced\", \"fixed\", \"last_affected\" or \"limit\"",
                ),
            ));
        };
        let kind = match EVENT_KINDS.iter().find(|(name, _)| name == key) {
            Some(&(_, kind)) => Some(kind),
            None if key == "limit" => None,
            None => {
                return Err(READER.fail(
                    &at,
                    Reason::UnknownMember {
                        member: key.clone(),
                        allowed: "introduced, fixed, last_affected, limit",
                    },
                ));
            }
        };
        let at = at.member(key);
        let text = READER.string(text, &at)?;
        introduced |= kind == Some(EventKind::Introduced);
        let Some(scheme) = scheme else {
            continue;
        };
        let Some(kind) = kind else {
            // `limit`: versions at or above it are outside the range; `*` is no limit.
            notes.beyond_v1("a \"limit\" event");
            v1_events = None;
            if text != "*" {
                match comparator.parse(text) {
                    Ok(key) => limits.push(key),
                    Err(error) => {
                        skip_version(notes, &at, comparator, text, &error);
                        v2_events = None;
                    }
                }
            }
            continue;
        };
        if let Some(events) = v1_events.as_mut() {
            match bound(scheme, kind, text, &at) {
                Ok(bound) => events.push(Event { kind, bound }),
                Err(_) => {
                    notes.beyond_v1("a range version score version 1 could not read");
                    v1_events = None;
                }
            }
        }
        let bound = if kind == EventKind::Introduced && text == "0" {
            Some(None)
        } else {
            match comparator.parse(text) {
                Ok(key) => Some(Some(key)),
                Err(error) => {
                    skip_version(notes, &at, comparator, text, &error);
                    None
                }
            }
        };
        match (bound, v2_events.as_mut()) {
            (Some(bound), Some(events)) => events.push(Event2 { kind, bound }),
            (None, _) => v2_events = None,
            _ => {}
        }
    }
    let Some(scheme) = scheme else {
        notes.skip(
            at,
            "a GIT range names commits, not package versions: not evaluated",
        );
        return Ok(None);
    };
    if !introduced {
        return Err(READER.fail(at, Reason::Rule("a range needs an \"introduced\" event")));
    }
    let v1 = v1_events.map(|mut events| {
        events.sort_by(|a, b| cmp_events(scheme, a, b));
        events
    });
    let v2 = v2_events.map(|mut events| {
        events.sort_by(cmp_events2);
        Range2 {
            comparator,
            events,
            limits,
        }
    });
    Ok(Some(Range { scheme, v1, v2 }))
}

fn skip_version(
    notes: &mut Notes,
    at: &Path,
    comparator: Comparator,
    text: &str,
    error: &crate::version::VersionError,
) {
    notes.skip(
        at,
        format!(
            "{text:?} is not a {} version ({error}): the range is not evaluated",
            comparator.name()
        ),
    );
}

/// A score version 1 bound.
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
/// an optional `rangeType` (default `ECOSYSTEM`). Score version 2 compares
/// its versions by the purl type's comparator.
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
    let comparator = Comparator::of_purl_type(package.ty());
    let range_comparator = match scheme {
        Scheme::Semver => Comparator::Semver,
        Scheme::Ecosystem => comparator,
    };
    let mut events = Vec::new();
    let mut events2 = Some(Vec::new());
    for (name, kind) in EVENT_KINDS {
        if let Some(value) = obj.get(name) {
            let at = at.member(name);
            let text = READER.string(value, &at)?;
            events.push(Event {
                kind,
                bound: bound(scheme, kind, text, &at)?,
            });
            let key = if kind == EventKind::Introduced && text == "0" {
                Some(None)
            } else {
                range_comparator.parse(text).ok().map(Some)
            };
            match (key, events2.as_mut()) {
                (Some(bound), Some(list)) => list.push(Event2 { kind, bound }),
                (None, _) => events2 = None,
                _ => {}
            }
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
        if !events.iter().any(|e| e.kind == EventKind::Introduced) {
            return Err(READER.fail(at, Reason::Rule("a range needs an \"introduced\" event")));
        }
        events.sort_by(|a, b| cmp_events(scheme, a, b));
        let v2 = events2.map(|mut list| {
            list.sort_by(cmp_events2);
            Range2 {
                comparator: range_comparator,
                events: list,
                limits: Vec::new(),
            }
        });
        vec![Range {
            scheme,
            v1: Some(events),
            v2,
        }]
    };
    let version_keys = versions.iter().map(|v| comparator.parse(v).ok()).collect();
    Ok(Affected {
        package,
        comparator,
        release: None,
        ranges,
        versions,
        version_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(scheme: &str, events: Value) -> Range {
        let value = serde_json::json!({"type": scheme, "events": events});
        super::range(
            &value,
            &Path::Root,
            Comparator::Generic,
            &mut Notes::default(),
        )
        .unwrap()
        .unwrap()
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
