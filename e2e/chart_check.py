#!/usr/bin/env python3
"""Checks the chart's monitoring content (Python standard library only).

    e2e/chart_check.py [--objects DRY_RUN.json --external EXTERNAL.yaml --values PROFILE]
        [--metrics charts/attestor-operator/metrics.txt
         --metrics-rs operator/runtime/src/metrics.rs
         --dashboard charts/attestor-operator/files/dashboard.json
         --rules RENDERED_PROMETHEUSRULE.yaml [--runbooks docs/runbooks.md]]

e2e/chart.sh runs it; what it checks:

* --objects (the API server's answer to a dry run of the chart): restricted security
  context, probes, requests, replicas and anti-affinity, PodDisruptionBudget, no RBAC
  wildcard, ConfigMaps and Secrets `get` only cluster-wide (no list/watch), resourceNames on the Role's rules and the
  webhook configuration, the webhook's failurePolicy, timeout, sideEffects,
  namespaceSelector and rules, per value set (PROFILE: default, all-on, minimal);
* --values-yaml: every value has a `# --` comment (itself or a parent key);
* --external (ServiceMonitor, PrometheusRule, Certificate, Issuer): present exactly when
  enabled, with apiVersion, kind, metadata and spec;
* the dashboard is Grafana dashboard JSON: uid, title, schemaVersion, panels with
  unique ids, gridPos, a datasource and targets (refId, expr) on every graph panel,
  and the datasource variable they refer to;
* every metric named in a dashboard query or an alert expression is one the operator
  exports: listed in metrics.txt (histograms also as _bucket, _sum and _count);
* every metric registered in metrics.rs is listed in metrics.txt;
* every alert has an expression, a severity and a runbook_url whose anchor is a
  heading of docs/runbooks.md (when --runbooks is given).

Exits 1 listing every problem, 0 when there is none.
"""

import argparse
import json
import re
import sys

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan", "atan2",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

problems = []


def problem(msg):
    problems.append(msg)


def read_metrics_txt(path):
    metrics = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("counter", "gauge", "histogram"):
                problem(f"{path}:{n}: expected 'NAME counter|gauge|histogram', got {line!r}")
                continue
            if parts[0] in metrics:
                problem(f"{path}:{n}: {parts[0]} listed twice")
            metrics[parts[0]] = parts[1]
    return metrics


def registered_in_rust(path):
    """Metric names registered in metrics.rs: a name literal alone on its line (the
    first argument of counter(), int_gauge(), histogram(), Opts::new(), ...), outside
    the test module."""
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#[cfg(test)]"):
                break
            m = re.match(r'^\s*"([a-z][a-z0-9_]*_[a-z0-9_]*)",\s*$', line)
            if m:
                names.append(m.group(1))
    return names


def metric_names(expr):
    """The metric names a PromQL (or Grafana-templated PromQL) expression reads."""
    # Grafana's label_values(METRIC, LABEL) / label_values(LABEL): only METRIC is one.
    expr = re.sub(r"\blabel_values\(\s*([^,()]+?)\s*,\s*\w+\s*\)", r"\1", expr)
    expr = re.sub(r"\blabel_values\(\s*\w+\s*\)", " ", expr)
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\{[^{}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)  # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    e = re.sub(r"\boffset\s+\S+", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:$])([A-Za-z_:][A-Za-z0-9_:]*)", e):
        name = m.group(1)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):  # a function call
            continue
        if name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def check_names(where, expr, metrics):
    names = metric_names(expr)
    if not names:
        problem(f"{where}: no metric found in {expr!r}")
    for name in sorted(names):
        if name in metrics:
            continue
        base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if base is not None and metrics.get(base) == "histogram":
            continue
        problem(f"{where}: unknown metric {name!r} (not in metrics.txt) in {expr!r}")


def check_dashboard(path, metrics):
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        problem(f"{path}: not valid JSON: {e}")
        return 0
    if not isinstance(d, dict):
        problem(f"{path}: the dashboard is not a JSON object")
        return 0
    for key, kind in (("uid", str), ("title", str), ("schemaVersion", int), ("panels", list)):
        if not isinstance(d.get(key), kind) or (kind is str and not d[key]):
            problem(f"{path}: missing or invalid {key!r}")
    if isinstance(d.get("uid"), str) and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"]):
        problem(f"{path}: uid {d['uid']!r} is not 1-40 characters of [A-Za-z0-9_-]")
    if isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] < 30:
        problem(f"{path}: schemaVersion {d['schemaVersion']} is older than Grafana 8")
    variables = {
        v.get("name"): v for v in d.get("templating", {}).get("list", []) if isinstance(v, dict)
    }

    def check_datasource(where, ds):
        if not isinstance(ds, dict) or ds.get("type") != "prometheus" or not ds.get("uid"):
            problem(f"{where}: datasource must be {{type: prometheus, uid: ...}}, got {ds!r}")
            return
        m = re.fullmatch(r"\$\{?(\w+)\}?", ds["uid"])
        if m and variables.get(m.group(1), {}).get("type") != "datasource":
            problem(f"{where}: datasource variable {m.group(1)!r} is not defined")

    ids = set()
    queries = 0
    panels = list(d.get("panels") or [])
    for p in panels:
        if p.get("type") == "row":
            panels.extend(p.get("panels", []))
    for p in panels:
        where = f"{path}: panel {p.get('id')} {p.get('title')!r}"
        if not isinstance(p.get("id"), int) or p["id"] in ids:
            problem(f"{where}: missing or duplicate id")
        ids.add(p.get("id"))
        if not p.get("type") or not p.get("title"):
            problem(f"{where}: missing type or title")
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in "xywh"):
            problem(f"{where}: missing gridPos x/y/w/h")
        elif g["x"] + g["w"] > 24:
            problem(f"{where}: gridPos wider than 24 columns")
        if p.get("type") == "row":
            continue
        check_datasource(where, p.get("datasource"))
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            problem(f"{where}: no targets")
            continue
        refs = set()
        for t in targets:
            if not t.get("refId") or t["refId"] in refs:
                problem(f"{where}: target without a unique refId")
            refs.add(t.get("refId"))
            check_datasource(f"{where} target {t.get('refId')}", t.get("datasource"))
            if not isinstance(t.get("expr"), str) or not t["expr"].strip():
                problem(f"{where}: target {t.get('refId')} has no expr")
                continue
            queries += 1
            check_names(f"{where} target {t.get('refId')}", t["expr"], metrics)
    for v in variables.values():
        q = v.get("query")
        if v.get("type") == "query":
            q = q.get("query") if isinstance(q, dict) else q
            check_names(f"{path}: variable {v.get('name')!r}", q or "", metrics)
    return queries


def parse_rules(path):
    """Alerts of a rendered PrometheusRule: [(name, expr, labels, annotations)].
    A small line-based reader for the chart's own layout (block scalars for expr)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    alerts = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)- alert:\s*(\S+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1)) + 2
        alert = {"name": m.group(2), "expr": "", "fields": {}}
        i += 1
        section = None
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            cur = len(line) - len(line.lstrip())
            if stripped and cur < indent or re.match(r"^\s*- ", line) and cur <= indent - 2:
                break
            km = re.match(r"^(\s*)([A-Za-z_]+):\s*(.*)$", line)
            if km and len(km.group(1)) == indent:
                key, value = km.group(2), km.group(3)
                section = key
                if key == "expr":
                    if value in ("|", "|-", ">", ">-"):
                        body = []
                        i += 1
                        while i < len(lines) and (
                            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
                        ):
                            body.append(lines[i].strip())
                            i += 1
                        alert["expr"] = " ".join(body).strip()
                        continue
                    alert["expr"] = value.strip("'\"")
            elif km and section in ("labels", "annotations"):
                alert["fields"][km.group(2)] = km.group(3).strip().strip("'\"")
            i += 1
        alerts.append(alert)
    return alerts


def runbook_anchors(path):
    anchors = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
            if m:
                text = m.group(1).lower()
                text = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
                anchors.add(text)
    return anchors


def load_objects(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # `kubectl apply -o json` prints a List for several objects, or JSON objects one after another.
    dec = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = dec.raw_decode(text, i)
        out.extend(obj.get("items", []) if obj.get("kind") == "List" else [obj])
    return out


def check_objects(path, profile):
    """Policy checks on what the API server returned for a dry run of the chart."""
    objs = load_objects(path)
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
    where = f"{path} ({profile})"

    def one(kind):
        items = by_kind.get(kind, [])
        if len(items) != 1:
            problem(f"{where}: expected one {kind}, found {len(items)}")
            return None
        return items[0]

    for kind in ("CustomResourceDefinition",):
        if len(by_kind.get(kind, [])) != 4:
            problem(f"{where}: expected the 4 attestor CRDs")
    dep = one("Deployment")
    if dep:
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problem(f"{where}: pod securityContext is not restricted: {psc}")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if (sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True
                    or sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("runAsNonRoot") is not True):
                problem(f"{where}: container {c['name']} securityContext is not restricted: {sc}")
            if not c.get("resources", {}).get("requests"):
                problem(f"{where}: container {c['name']} has no resource requests")
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problem(f"{where}: container {c['name']} has no {probe}")
        args = pod["containers"][0].get("args", [])
        replicas = dep["spec"].get("replicas")
        # Break-glass admits unverified images: the chart's default must match the operator's (off).
        if profile != "minimal" and "--allow-break-glass=false" not in args:
            problem(f"{where}: break-glass is not off by default: {args}")
        # Fetches reach no internal network unless one is allowed (all-on allows the Service CIDR).
        allow = [a for a in args if a.startswith("--fetch-allow-network")]
        want = ["--fetch-allow-network=10.96.0.0/12"] if profile == "all-on" else []
        if allow != want:
            problem(f"{where}: expected {want or 'no --fetch-allow-network'}, got {allow}")
    for kind in ("ClusterRole", "Role"):
        for role in by_kind.get(kind, []):
            for r in role.get("rules") or []:
                for field in ("apiGroups", "resources", "verbs"):
                    if "*" in r.get(field, []):
                        problem(f"{where}: {kind} {role['metadata']['name']} grants * in {field}")
                res = set(r.get("resources", []))
                if res & {"secrets", "configmaps"} and kind == "ClusterRole":
                    # get only: list or watch would read every ConfigMap/Secret in the cluster.
                    if set(r["verbs"]) != {"get"} or r.get("resourceNames"):
                        problem(f"{where}: the ClusterRole may do more than get ConfigMaps/Secrets: {r}")
                if kind == "Role" and set(r["verbs"]) & {"update", "patch", "get"} and not r.get("resourceNames"):
                    problem(f"{where}: Role rule without resourceNames: {r}")
    # Self-signed mode: the operator's TLS Secret is exactly the one the Role grants.
    if dep and "--webhook-cert-mode=self-signed" in args:
        names = [n for role in by_kind.get("Role", []) for r in role.get("rules") or []
                 if "secrets" in r.get("resources", []) and "update" in r.get("verbs", [])
                 for n in r.get("resourceNames", [])]
        if len(names) != 1 or f"--webhook-tls-secret={names[0]}" not in args:
            problem(f"{where}: --webhook-tls-secret does not name the Role's Secret {names}: {args}")
    vwcs = by_kind.get("ValidatingWebhookConfiguration", [])
    cr = one("ClusterRole")
    if profile == "minimal":
        if vwcs:
            problem(f"{where}: webhook disabled but a ValidatingWebhookConfiguration is rendered")
        if dep and (replicas != 1 or "--leader-elect=false" not in args or "--webhook=false" not in args):
            problem(f"{where}: expected 1 replica, --leader-elect=false and --webhook=false: {args}")
        if by_kind.get("PodDisruptionBudget"):
            problem(f"{where}: a PodDisruptionBudget for a single replica blocks drains")
        return
    if dep:
        if replicas != 2:
            problem(f"{where}: expected 2 replicas, got {replicas}")
        if "podAntiAffinity" not in dep["spec"]["template"]["spec"].get("affinity", {}):
            problem(f"{where}: no pod anti-affinity")
        mode = "files" if profile == "all-on" else "self-signed"
        if f"--webhook-cert-mode={mode}" not in args:
            problem(f"{where}: expected --webhook-cert-mode={mode} in {args}")
    one("PodDisruptionBudget")
    one("NetworkPolicy")
    one("ServiceAccount")
    svc = one("Service")
    if svc:
        ports = {(p["port"], p.get("targetPort")) for p in svc["spec"]["ports"]}
        if (443, "webhook") not in ports or (8080, "metrics") not in ports:
            problem(f"{where}: Service ports are {ports}, expected 443->webhook and 8080->metrics")
    vwc = one("ValidatingWebhookConfiguration")
    if vwc:
        name = vwc["metadata"]["name"]
        for w in vwc["webhooks"]:
            if (w.get("failurePolicy"), w.get("timeoutSeconds"), w.get("sideEffects")) != ("Fail", 5, "NoneOnDryRun"):
                problem(f"{where}: webhook {w['name']}: failurePolicy/timeoutSeconds/sideEffects are "
                        f"{w.get('failurePolicy')}/{w.get('timeoutSeconds')}/{w.get('sideEffects')}")
            exprs = {e["key"]: e for e in w.get("namespaceSelector", {}).get("matchExpressions", [])}
            if exprs.get("attestor.stellaops.io/enforcement", {}).get("operator") != "Exists":
                problem(f"{where}: namespaceSelector does not require the opt-in label")
            excluded = set(exprs.get("kubernetes.io/metadata.name", {}).get("values", []))
            ns = vwc_ns = w["clientConfig"]["service"]["namespace"]
            if not {"kube-system", ns} <= excluded:
                problem(f"{where}: namespaceSelector does not exclude kube-system and {vwc_ns}")
            resources = {(g, r) for rule in w["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
            for need in (("", "pods"), ("apps", "deployments"), ("batch", "jobs"), ("batch", "cronjobs")):
                if need not in resources:
                    problem(f"{where}: the webhook does not check {need}")
        ann = vwc["metadata"].get("annotations", {})
        if profile == "all-on" and "cert-manager.io/inject-ca-from" not in ann:
            problem(f"{where}: no cert-manager.io/inject-ca-from annotation")
        if cr:
            rules = [r for r in cr["rules"] if "validatingwebhookconfigurations" in r.get("resources", [])]
            if len(rules) != 1 or rules[0].get("resourceNames") != [name]:
                problem(f"{where}: validatingwebhookconfigurations not limited to {name}: {rules}")
    if profile == "all-on":
        cms = [c for c in by_kind.get("ConfigMap", []) if c["metadata"]["name"].endswith("-dashboard")]
        if len(cms) != 1:
            problem(f"{where}: no dashboard ConfigMap")
        else:
            try:
                json.loads(next(iter(cms[0]["data"].values())))
            except ValueError as e:
                problem(f"{where}: the dashboard ConfigMap does not hold JSON: {e}")


def check_external(path, profile):
    """The objects whose CRDs are not installed: apiVersion, kind, metadata present."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in re.split(r"(?m)^---\s*$", f.read()) if d.strip()]
    kinds = {}
    for d in docs:
        api = re.search(r"(?m)^apiVersion:\s*(\S+)", d)
        kind = re.search(r"(?m)^kind:\s*(\S+)", d)
        name = re.search(r"(?m)^  name:\s*(\S+)", d)
        ns = re.search(r"(?m)^  namespace:\s*(\S+)", d)
        if not (api and kind and name and ns and re.search(r"(?m)^spec:", d)):
            problem(f"{path}: a document lacks apiVersion, kind, metadata.name/namespace or spec")
            continue
        kinds[kind.group(1)] = api.group(1)
    expected = {}
    if profile == "all-on":
        expected = {"ServiceMonitor": "monitoring.coreos.com/v1", "PrometheusRule": "monitoring.coreos.com/v1",
                    "Certificate": "cert-manager.io/v1", "Issuer": "cert-manager.io/v1"}
    if kinds != expected:
        problem(f"{path} ({profile}): external objects are {kinds}, expected {expected}")


def check_values_documented(path):
    """Every value of values.yaml is documented: a `# --` comment right above it or above
    one of its parent keys (a mapping documented as a whole, such as resources)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    stack = []  # (indent, documented)
    comment = []
    count = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped)
            continue
        indent = len(line) - len(line.lstrip())
        documented_here = any(c.startswith("# --") for c in comment)
        comment = []
        if stripped.startswith("- "):
            continue  # list items belong to the (documented) list value above
        m = re.match(r"^([A-Za-z0-9_.-]+):(.*)$", stripped)
        if not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        covered = documented_here or any(d for _, d in stack)
        value = m.group(2).split(" #", 1)[0].strip()
        nxt = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
        # A mapping of further values (a list is one value, documented as a whole).
        is_parent = not value and len(nxt) - len(nxt.lstrip()) > indent and not nxt.strip().startswith("- ")
        if not is_parent:
            count += 1
            if not covered:
                problem(f"{path}:{i + 1}: value {m.group(1)!r} has no '# --' comment")
        stack.append((indent, documented_here))
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", help="kubectl apply --dry-run=server -o json output of the chart")
    ap.add_argument("--external", help="rendered objects whose CRDs are not installed")
    ap.add_argument("--values", default="default", help="which value set was rendered: default, all-on, minimal")
    ap.add_argument("--metrics")
    ap.add_argument("--metrics-rs")
    ap.add_argument("--dashboard")
    ap.add_argument("--rules", help="a rendered PrometheusRule manifest")
    ap.add_argument("--runbooks")
    ap.add_argument("--values-yaml", help="check that every value of this values.yaml is documented")
    a = ap.parse_args()
    summary = []

    if a.values_yaml:
        n = check_values_documented(a.values_yaml)
        summary.append(f"{n} documented values")

    if a.objects:
        check_objects(a.objects, a.values)
        summary.append(f"{a.values} manifests")
    if a.external:
        check_external(a.external, a.values)
    if a.dashboard or a.rules:
        if not (a.metrics and a.metrics_rs and a.dashboard and a.rules):
            ap.error("--dashboard and --rules need --metrics, --metrics-rs and each other")
        metrics = read_metrics_txt(a.metrics)
        for name in registered_in_rust(a.metrics_rs):
            if name not in metrics:
                problem(f"{a.metrics}: {name} is registered in {a.metrics_rs} but not listed")
        queries = check_dashboard(a.dashboard, metrics)
        alerts = parse_rules(a.rules)
        if not alerts:
            problem(f"{a.rules}: no alerts found")
        anchors = runbook_anchors(a.runbooks) if a.runbooks else None
        for al in alerts:
            where = f"{a.rules}: alert {al['name']}"
            if not al["expr"]:
                problem(f"{where}: no expr")
            else:
                check_names(where, al["expr"], metrics)
            if al["fields"].get("severity") not in ("info", "warning", "critical"):
                problem(f"{where}: severity must be info, warning or critical")
            url = al["fields"].get("runbook_url", "")
            if "#" not in url:
                problem(f"{where}: no runbook_url with an anchor")
            elif anchors is not None and url.rsplit("#", 1)[1] not in anchors:
                problem(f"{where}: runbook anchor #{url.rsplit('#', 1)[1]} is not a heading of {a.runbooks}")
        summary.append(f"{queries} dashboard queries and {len(alerts)} alerts using only the "
                       f"{len(metrics)} exported metrics")

    if problems:
        for p in problems:
            print(f"chart_check: {p}", file=sys.stderr)
        return 1
    print(f"chart_check: ok: {', '.join(summary) or 'nothing to check'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
