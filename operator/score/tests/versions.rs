//! Score version 2's per-ecosystem version orders against their references:
//! pairs generated with each ecosystem's own tool (tests/data/versions/
//! generate.py: dpkg, rpm, Python `packaging`, Maven's ComparableVersion,
//! RubyGems, PHP), the test vectors of apk-tools, and hand-written pairs
//! from the specifications where no tool is at hand (NuGet, SemVer/Go,
//! legacy PyPI, CRAN/Hackage).

use std::cmp::Ordering;

use attestor_score::compare::Comparator;

fn order(op: &str) -> Ordering {
    match op {
        "<" => Ordering::Less,
        "=" => Ordering::Equal,
        ">" => Ordering::Greater,
        other => panic!("unknown operator {other:?}"),
    }
}

/// Checks every `a<TAB>op<TAB>b` line of a generated file; returns how many.
fn check_generated(file: &str, comparator: Comparator) -> usize {
    let path = format!("{}/tests/data/versions/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let [a, op, b] = fields[..] else {
            panic!("{file}: bad line {line:?}");
        };
        count += 1;
        let got = comparator.compare(a, b);
        if got != Some(order(op)) {
            failures.push(format!("{a} {op} {b}: got {got:?}"));
        }
        // Antisymmetry: the reverse pair must give the reverse order.
        if comparator.compare(b, a) != Some(order(op).reverse()) {
            failures.push(format!("{b} vs {a}: not the reverse"));
        }
    }
    assert!(failures.is_empty(), "{file}:\n{}", failures.join("\n"));
    count
}

fn check_table(comparator: Comparator, table: &[(&str, &str, &str)]) {
    for &(a, op, b) in table {
        assert_eq!(comparator.compare(a, b), Some(order(op)), "{a} {op} {b}");
        assert_eq!(
            comparator.compare(b, a),
            Some(order(op).reverse()),
            "{b} vs {a}"
        );
    }
}

#[test]
fn dpkg_agrees_with_dpkg_compare_versions() {
    assert!(check_generated("dpkg.txt", Comparator::Dpkg) > 800);
}

#[test]
fn rpm_agrees_with_rpm_vercmp() {
    assert!(check_generated("rpm.txt", Comparator::Rpm) > 500);
}

#[test]
fn pep440_agrees_with_packaging() {
    assert!(check_generated("pep440.txt", Comparator::Pep440) > 800);
}

#[test]
fn maven_agrees_with_comparable_version() {
    assert!(check_generated("maven.txt", Comparator::Maven) > 800);
}

#[test]
fn rubygems_agrees_with_gem_version() {
    assert!(check_generated("rubygems.txt", Comparator::RubyGems) > 300);
}

#[test]
fn packagist_agrees_with_php_version_compare() {
    assert!(check_generated("composer.txt", Comparator::Composer) > 400);
}

/// apk-tools' own test vectors (`a op b` separated by spaces). The two
/// versions that apk itself calls invalid (`1.0bc`, `23_foo`) are refused.
#[test]
fn apk_agrees_with_apk_tools_test_vectors() {
    let path = format!("{}/tests/data/versions/apk.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut checked = 0;
    let mut refused = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let line = line.split('#').next().unwrap().trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [a, op, b] = fields[..] else {
            panic!("bad line {line:?}");
        };
        match Comparator::Apk.compare(a, b) {
            Some(got) => {
                assert_eq!(got, order(op), "{a} {op} {b}");
                assert_eq!(Comparator::Apk.compare(b, a), Some(order(op).reverse()));
                checked += 1;
            }
            None => refused.push(line.to_string()),
        }
    }
    assert!(checked > 700, "{checked}");
    assert_eq!(refused, ["23_foo > 4_beta", "1.0 < 1.0bc"]);
}

#[test]
fn alpine_secdb_shapes() {
    check_table(
        Comparator::Apk,
        &[
            ("1.2.4-r2", "<", "1.2.4-r3"),
            ("1.2.4_git20230717-r4", ">", "1.2.4-r4"),
            ("3.1.4-r5", "<", "3.1.4-r10"),
            ("1.36.1-r15", "<", "1.36.1-r19"),
            ("8.5.0_rc1-r0", "<", "8.5.0-r0"),
            ("2.12.6-r0", ">", "2.12.5_p1-r0"),
        ],
    );
}

/// SemVer precedence with Go's `v`, pseudo-versions and `+incompatible`,
/// and npm's pre-releases (semver.org §11; go.dev/ref/mod#pseudo-versions).
#[test]
fn semver_go_and_npm() {
    check_table(
        Comparator::Semver,
        &[
            ("v0.17.0", "=", "0.17.0"),
            ("v0.17.0", "<", "0.17.1"),
            ("v1.2", "=", "1.2.0"),
            ("v2.0.0+incompatible", "=", "2.0.0"),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "<",
                "v0.0.0-20200101000000-abcdefabcdef",
            ),
            ("v0.0.0-20191109021931-daa7c04131f5", "<", "0.0.1"),
            ("v1.2.4-0.20191109021931-daa7c04131f5", ">", "1.2.3"),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "<", "1.2.4"),
            ("1.0.0-alpha", "<", "1.0.0-alpha.1"),
            ("1.0.0-alpha.beta", "<", "1.0.0-beta"),
            ("1.0.0-beta.2", "<", "1.0.0-beta.11"),
            ("1.0.0-rc.1", "<", "1.0.0"),
            ("7.5.0-rc.1", "<", "7.5.0"),
            ("4.17.20", "<", "4.17.21"),
            // Go's standard library as SBOM tools write it.
            ("go1.21.5", "=", "1.21.5"),
            ("go1.21", "<", "1.21.1"),
            ("go1.22.0", ">", "v1.21.9"),
            ("1.10.0", ">", "1.9.0"),
        ],
    );
    assert_eq!(Comparator::Semver.compare("1.2.3.4", "1.2.3"), None);
    assert_eq!(Comparator::Semver.compare("vv1.2.3", "1.2.3"), None);
    assert_eq!(Comparator::Semver.compare("go", "1.2.3"), None);
    assert_eq!(Comparator::Semver.compare("gov1.2.3", "1.2.3"), None);
}

/// NuGet.Versioning: four parts, missing parts zero, case-insensitive labels
/// (learn.microsoft.com/nuget/concepts/package-versioning).
#[test]
fn nuget() {
    check_table(
        Comparator::NuGet,
        &[
            ("1.0", "=", "1.0.0.0"),
            ("1.0.0.1", ">", "1.0.0"),
            ("1.0.0-beta", "<", "1.0.0"),
            ("1.0.0-BETA", "=", "1.0.0-beta"),
            ("1.0.0-alpha", "<", "1.0.0-beta"),
            ("1.0.0-beta.2", "<", "1.0.0-beta.10"),
            ("1.0.0-rc.1", ">", "1.0.0-beta.10"),
            ("1.0.0+build", "=", "1.0.0"),
            ("1.01", "=", "1.1"),
            ("4.7.0.1", "<", "4.7.1"),
            ("13.0.1", "<", "13.0.3"),
        ],
    );
    assert_eq!(Comparator::NuGet.compare("1.2.3.4.5", "1"), None);
}

/// Versions that are not PEP 440 sort before every PEP 440 version and
/// among themselves as `packaging`'s LegacyVersion did.
#[test]
fn pypi_legacy_versions() {
    check_table(
        Comparator::Pep440,
        &[
            ("2004d", "<", "0.1"),
            ("1.0-foo", "<", "0.0.1"),
            ("french toast", "<", "0"),
            ("1.0-foo", "<", "1.0-foo2"),
            ("0.9-beta", "<", "1.0-beta"),
        ],
    );
}

/// CRAN (R's package_version) and Hackage (PVP, Data.Version): numbers, a
/// shorter prefix first.
#[test]
fn numeric() {
    check_table(
        Comparator::Numeric,
        &[
            ("1.0", "<", "1.0.0"),
            ("1.2-3", "=", "1.2.3"),
            ("1.10", ">", "1.9"),
            ("0.4.0.0", ">", "0.4"),
            ("1.01", "=", "1.1"),
        ],
    );
    assert_eq!(Comparator::Numeric.compare("1.0a", "1.0"), None);
}

/// The examples: where the generic order of score version 1 is wrong.
#[test]
fn where_the_generic_order_was_wrong() {
    assert_eq!(
        Comparator::Composer.compare("v7.30.6", "7.30.7"),
        Some(Ordering::Less)
    );
    assert_eq!(
        Comparator::Dpkg.compare("7.88.1-10+deb12u5", "7.88.1-10"),
        Some(Ordering::Greater)
    );
    assert_eq!(
        Comparator::Dpkg.compare("1:1.0", "2.0"),
        Some(Ordering::Greater)
    );
    assert_eq!(
        Comparator::Pep440.compare("1.0.post1", "1.0"),
        Some(Ordering::Greater)
    );
    assert_eq!(
        Comparator::Maven.compare("2.17.0-rc1", "2.17.0"),
        Some(Ordering::Less)
    );
    assert_eq!(
        Comparator::Maven.compare("1.0-sp1", "1.0"),
        Some(Ordering::Greater)
    );
    // The generic order gets these the other way round.
    assert_eq!(
        Comparator::Generic.compare("1.0.post1", "1.0"),
        Some(Ordering::Less)
    );
}
