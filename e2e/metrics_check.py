#!/usr/bin/env python3
"""After the e2e suite: every metric the Helm chart's dashboard and alerts use is on the
operator's /metrics, with every label they select or group by.

  e2e/metrics_check.py METRICS_TEXT_FILE [--not-exercised NAME ...]

Labeled metrics appear on /metrics only once something was counted; the few that the e2e
suite cannot exercise (break-glass is off by default, ...) are named with --not-exercised and
reported, not failed. Labels that Prometheus adds when it scrapes (namespace, job, pod, ...)
and `le` are not the operator's and are not checked. Standard library only.
"""
import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts/attestor-operator"
TARGET_LABELS = {"namespace", "job", "instance", "pod", "service", "container", "endpoint", "le"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def listed_metrics():
    names = {}
    for line in (CHART / "metrics.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, kind = line.split()[:2]
            names[name] = kind
    return names


def expressions():
    """(where, expr) of every dashboard target and alert rule."""
    out = []
    dashboard = json.loads((CHART / "files/dashboard.json").read_text())

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                out.append(("dashboard", node["expr"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard)
    rules = (CHART / "templates/prometheusrule.yaml").read_text().splitlines()
    i = 0
    while i < len(rules):
        if rules[i].strip().startswith("expr:"):
            indent = len(rules[i]) - len(rules[i].lstrip())
            text = rules[i].split("expr:", 1)[1].strip().lstrip(">-|").strip()
            i += 1
            while i < len(rules) and (not rules[i].strip() or len(rules[i]) - len(rules[i].lstrip()) > indent):
                text += " " + rules[i].strip()
                i += 1
            out.append(("alert", text))
        else:
            i += 1
    return out


def uses(expr, names):
    """metric name -> label keys the expression selects or groups by."""
    expr = re.sub(r"\{\{.*?\}\}", "", expr)
    grouped = set()
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        grouped |= {l.strip() for l in m.group(1).split(",") if l.strip()}
    found = {}
    for m in re.finditer(r"\b([a-z_:][a-z0-9_:]*)\b(\{[^}]*\})?", expr):
        token, selector = m.group(1), m.group(2) or ""
        base = token
        for suffix in HISTOGRAM_SUFFIXES:
            if token.endswith(suffix) and token[: -len(suffix)] in names:
                base = token[: -len(suffix)]
        if base not in names:
            continue
        keys = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
        found.setdefault(base, set()).update(keys | grouped)
    return {n: ks - TARGET_LABELS for n, ks in found.items()}


def exported(text):
    """metric family name -> label keys seen on its samples."""
    seen = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if not m:
            continue
        name = m.group(1)
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        keys = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        seen.setdefault(name, set()).update(keys)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics_text")
    ap.add_argument("--not-exercised", nargs="*", default=[])
    a = ap.parse_args()
    names = listed_metrics()
    needed = {}
    for _, expr in expressions():
        for name, keys in uses(expr, names).items():
            needed.setdefault(name, set()).update(keys)
    if not needed:
        print("metrics_check: no metric found in the dashboard and alerts", file=sys.stderr)
        return 1
    seen = exported(Path(a.metrics_text).read_text())
    problems, skipped = [], []
    for name in sorted(needed):
        if name not in seen:
            (skipped if name in a.not_exercised else problems).append(
                f"{name} is not on /metrics" if name not in a.not_exercised else name
            )
            continue
        missing = needed[name] - seen[name]
        if missing:
            problems.append(f"{name} lacks label(s) {', '.join(sorted(missing))} (has {', '.join(sorted(seen[name])) or 'none'})")
    for p in problems:
        print(f"metrics_check: {p}", file=sys.stderr)
    checked = len(needed) - len(skipped)
    print(
        f"metrics_check: {checked} metrics of the dashboard and alerts on /metrics with their labels"
        + (f"; not exercised by this run: {', '.join(skipped)}" if skipped else "")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
