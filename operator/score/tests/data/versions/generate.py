#!/usr/bin/env python3
"""Regenerates the reference version pairs of tests/versions.rs with each
ecosystem's own tool: `dpkg --compare-versions` (Debian), rpm's Lua
`rpm.vercmp` (RPM), Python `packaging` (PEP 440), Maven's own
`ComparableVersion` (maven-artifact 3.8), RubyGems' `Gem::Version` and PHP's
`version_compare` (Packagist, after OSV's leading-`v` removal).

Every pair of the versions below is written as `a<TAB>op<TAB>b` with op one
of `<`, `=`, `>`. Run from this directory; needs dpkg, rpm, python3 with
`packaging`, java with /usr/share/java/maven-artifact-3.x.jar, ruby, php.
"""
import itertools
import json
import subprocess
import tempfile
import os

DEBIAN = [
    "0", "1", "1.0", "1.0-0", "1.0-1", "1.0-1~bpo1", "1.0~rc1", "1.0~rc1-1", "1.0~~", "1.0~",
    "1.0+deb12u1", "1.0-1+deb12u1", "1.0-1+deb12u5", "1.0-1+deb12u10", "1.0-1.1", "1.0-2",
    "1.0a", "1.0.a", "1.0.0", "1.00", "1:0.9", "1:1.0-1", "2:0.1", "0:1.0-1", "1.0+b1",
    "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "3.0.11-1", "7.88.1-10+deb12u5",
    "7.88.1-10+deb12u12", "7.88.1-10", "2.36-9+deb12u4", "2.36-9+deb12u10", "1.2.3-4ubuntu1",
    "1.2.3-4ubuntu0.1", "1.2.3-4build1", "1.2.3-4", "10.0", "9.9", "1.0-a", "1.0-+", "1.0-.",
]

RPM = [
    "1.0", "1.0-1", "1.0-2", "1.0-1.el9", "1.0-1.el9_3", "1.0-1.el9_3.1", "1.0-10.el9",
    "1.0~rc1", "1.0~rc1-1", "1.0^git1", "1.0^", "1.0.1", "1.0a", "1.0.a", "1.01", "1.1",
    "0:1.0-1", "1:1.0-1", "1:0.9-1", "2.0", "10", "9", "a", "b", "1.0_1", "1.0.0",
    "3.0.7-24.el9", "3.0.7-25.el9_3", "3.0.7-27.el9", "1:3.0.7-24.el9", "2.4.57-5.el9",
    "2.4.57-11.el9_4", "1.0-1.fc39", "1.0-1.module+el8.9.0+19999+abc", "5.4.17-2136.300.7.el9uek",
]

PYPI = [
    "0", "1", "1.0", "1.0.0", "1.0.post1", "1.0.post2", "1.0-1", "1.0.dev0", "1.0.dev1",
    "1.0a1", "1.0a2", "1.0a1.dev1", "1.0b1", "1.0rc1", "1.0c2", "1.0rc1.post1", "1.0+local",
    "1.0+local.1", "1.0+1", "1.0+abc.5", "1!0.1", "1!1.0", "2.0", "1.1", "1.10", "1.9",
    "1.0.post1.dev1", "v1.0", "1.0-alpha1", "1.0.RC1", "2020.1", "0.9.9", "1.0.1", "1.0.post0",
    "1.0a0", "4.2.0", "4.2.0.post1", "4.2.1", "3.1.2", "3.1.3", "1.0.0.0.0",
]

MAVEN = [
    "1", "1.0", "1.0.0", "1-0", "1.1", "1-1", "1.0.1", "1-sp", "1-sp1", "1-ga", "1-final",
    "1-release", "1-rc", "1-rc1", "1-cr1", "1-beta", "1-beta2", "1-alpha", "1-alpha1", "1-a1",
    "1-b1", "1-m1", "1-milestone1", "1-snapshot", "1-SNAPSHOT", "1.0-SNAPSHOT", "1-xyz",
    "1-abc", "1.0.0.RELEASE", "1.0.0.Final", "2.0", "2.0-1", "2.0.1", "1.2.3-20240101",
    "2.14.1", "2.15.0", "2.17.1", "2.17.0-rc1", "1.0-alpha-1", "1.0-1-1", "1.0.RC1", "10",
]

GEMS = [
    "0", "1", "1.0", "1.0.0", "1.0.a", "1.0.a1", "1.0.b", "1.0.rc1", "1.0.1", "1.0-1",
    "1.0.pre", "1.0.0.pre", "1.1", "1.10", "1.9", "2", "1.0.A", "1.0.a.1", "1.0.a.2",
    "7.0.8.1", "7.0.8", "7.1.3.2", "6.1.7.7", "1.13.10", "1.14.3", "0.9", "1.0.0.0.1",
]

PACKAGIST = [
    "1.0", "1.0.0", "v1.0.0", "1.0.1", "1.0-dev", "1.0-alpha", "1.0-alpha1", "1.0-beta",
    "1.0-beta2", "1.0-RC1", "1.0-rc2", "1.0-pl1", "1.0-patch1", "1.0-p1", "v7.30.6",
    "7.30.7", "7.30.6", "v7.30.7", "8.0.0", "10.0.0", "9.52.16", "v9.52.16", "1.0-stable",
    "1.0.0.0", "2.0", "1.10", "1.9", "5.4.0-BETA1", "5.4.0",
]


def sign(n):
    return "<" if n < 0 else ">" if n > 0 else "="


def pairs(versions):
    return list(itertools.combinations(versions, 2))


def dpkg(a, b):
    if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
        return "<"
    if subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
        return "="
    return ">"


def rpm_all(versions):
    lua = "; ".join(
        f"print(rpm.vercmp({json.dumps(a)}, {json.dumps(b)}) .. ' ')" for a, b in pairs(versions)
    )
    out = subprocess.run(
        ["rpm", "--eval", "%{lua: " + lua + "}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [sign(int(x)) for x in out]


def pypi(a, b):
    from packaging.version import Version

    x, y = Version(a), Version(b)
    return sign((x > y) - (x < y))


JAVA = """
import org.apache.maven.artifact.versioning.ComparableVersion;
public class Gen {
  public static void main(String[] args) {
    for (int i = 0; i < args.length; i++)
      for (int j = i + 1; j < args.length; j++) {
        int c = new ComparableVersion(args[i]).compareTo(new ComparableVersion(args[j]));
        System.out.println(c < 0 ? "<" : c > 0 ? ">" : "=");
      }
  }
}
"""


def maven_all(versions):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "Gen.java")
        with open(path, "w") as f:
            f.write(JAVA)
        out = subprocess.run(
            ["java", "-cp", "/usr/share/java/maven-artifact-3.x.jar", path, *versions],
            capture_output=True, text=True, check=True,
        ).stdout.split()
    return out


def ruby_all(versions):
    script = (
        "v = ARGV; v.each_with_index { |a, i| v[(i+1)..].each { |b| "
        "c = Gem::Version.new(a) <=> Gem::Version.new(b); puts(c < 0 ? '<' : c > 0 ? '>' : '=') } }"
    )
    return subprocess.run(
        ["ruby", "-e", script, *versions], capture_output=True, text=True, check=True
    ).stdout.split()


def php_all(versions):
    script = (
        "$v = array_slice($argv, 1); $n = count($v); for ($i = 0; $i < $n; $i++) "
        "for ($j = $i + 1; $j < $n; $j++) { $c = version_compare(ltrim($v[$i], 'vV'), "
        "ltrim($v[$j], 'vV')); echo ($c < 0 ? '<' : ($c > 0 ? '>' : '=')), \"\\n\"; }"
    )
    return subprocess.run(
        ["php", "-r", script, "--", *versions], capture_output=True, text=True, check=True
    ).stdout.split()


def write(name, versions, ops, tool):
    with open(f"{name}.txt", "w") as f:
        f.write(f"# generated by generate.py with {tool}; a<TAB>op<TAB>b\n")
        for (a, b), op in zip(pairs(versions), ops):
            f.write(f"{a}\t{op}\t{b}\n")


write("dpkg", DEBIAN, [dpkg(a, b) for a, b in pairs(DEBIAN)], "dpkg --compare-versions")
write("rpm", RPM, rpm_all(RPM), "rpm.vercmp (rpm 4.18)")
write("pep440", PYPI, [pypi(a, b) for a, b in pairs(PYPI)], "python packaging.version")
write("maven", MAVEN, maven_all(MAVEN), "maven-artifact 3.8 ComparableVersion")
write("rubygems", GEMS, ruby_all(GEMS), "ruby Gem::Version")
write("composer", PACKAGIST, php_all(PACKAGIST), "php version_compare, leading v removed")
