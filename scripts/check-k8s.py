#!/usr/bin/env python3
"""Strict offline validation of Tally's rendered Kubernetes manifests.

No cluster is needed. Three layers, each failing the run:

1. Schema: built-in kinds against the OpenAPI-derived JSON schemas shipped by PyPI
   `kubernetes-validate` (its strict variant: unknown fields fail, as with
   `kubectl apply --validate=strict`); custom resources against the
   `openAPIV3Schema` of the vendored CRDs, made strict the way the API server
   prunes: an object without `x-kubernetes-preserve-unknown-fields` admits only
   its declared properties. CEL rules (`x-kubernetes-validations`) are not
   evaluated. A kind with no schema fails.
2. Names: `metadata.name` must be a DNS subdomain (a DNS label for Services and
   Namespaces), as the API server requires.
3. Tally's own invariants, which no schema knows: gRPC probes, restricted
   security contexts, grace periods longer than the drain, h2c Services, the
   projector's scaling capped at the topics' partitions, settings that must
   agree across services, and REST/gRPC routes on separate hostnames.

usage: check-k8s.py --crd-dir deploy/k8s/crds [-k 1.33 ...] RENDERED.yaml...
Prints one line per problem; exit 1 when there is any.
"""

import argparse
import glob
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy"}
# libyaml's loader parses the 1.6 MB of CRDs in a fraction of the pure-Python time.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------- schemas


def strict_schema(node):
    """A CRD structural schema node as a JSON Schema that rejects unknown fields."""
    if not isinstance(node, dict):
        return node
    s = dict(node)
    if s.pop("x-kubernetes-int-or-string", False):
        s.pop("type", None)
        s["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.pop("nullable", False) and "type" in s:
        s["type"] = [s["type"], "null"]
    preserve = s.pop("x-kubernetes-preserve-unknown-fields", False)
    if s.pop("x-kubernetes-embedded-resource", False):
        # An embedded object always may carry apiVersion, kind and metadata.
        props = s.setdefault("properties", {})
        for key in ("apiVersion", "kind"):
            props.setdefault(key, {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    for key in [k for k in s if k.startswith("x-kubernetes-")]:
        del s[key]
    if "properties" in s:
        s["properties"] = {k: strict_schema(v) for k, v in s["properties"].items()}
        if not preserve and "additionalProperties" not in s:
            s["additionalProperties"] = False
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = strict_schema(s["additionalProperties"])
    if isinstance(s.get("items"), dict):
        s["items"] = strict_schema(s["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in s:
            s[key] = [strict_schema(x) for x in s[key]]
    if "not" in s:
        s["not"] = strict_schema(s["not"])
    return s


def load_crds(crd_dir):
    """(apiVersion, kind) -> validator, for every served version of every CRD."""
    table = {}
    for path in sorted(glob.glob(os.path.join(crd_dir, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.load_all(f, Loader=SafeLoader):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if not version.get("served"):
                        continue
                    schema = strict_schema(version["schema"]["openAPIV3Schema"])
                    props = schema.setdefault("properties", {})
                    # The API server validates these itself; status is not ours to set.
                    props["apiVersion"] = {"type": "string"}
                    props["kind"] = {"type": "string"}
                    props["metadata"] = {"type": "object"}
                    props.pop("status", None)
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    table[key] = jsonschema.Draft202012Validator(schema)
    if not table:
        sys.exit(f"no CustomResourceDefinitions found in {crd_dir}")
    return table


def schema_problems(doc, crds, versions):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in crds:
        errors = sorted(crds[key].iter_errors(doc), key=lambda e: list(e.absolute_path))
        return [f"{path_of(e)}: {e.message[:300]}" for e in errors]
    group = (key[0] or "").rpartition("/")[0]
    if group not in BUILTIN_GROUPS and not group.endswith(".k8s.io"):
        return [f"no schema for {key[0]} {key[1]} (not built in, and no vendored CRD)"]
    problems = []
    for version in versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except SchemaNotFoundError:
            return [f"no schema for {key[0]} {key[1]} in Kubernetes {version}"]
        except jsonschema.ValidationError as e:
            problems.append(f"Kubernetes {version}: {path_of(e)}: {e.message[:300]}")
    return problems


def path_of(error):
    return ".".join(str(p) for p in error.absolute_path) or "<root>"


def name_problems(doc):
    name = (doc.get("metadata") or {}).get("name") or ""
    if doc.get("kind") in ("Service", "Namespace"):
        if not (DNS_LABEL.match(name) and len(name) <= 63):
            return [f"metadata.name {name!r} is not a DNS-1035 label"]
    elif not (DNS_SUBDOMAIN.match(name) and len(name) <= 253):
        return [f"metadata.name {name!r} is not a DNS subdomain"]
    return []


# ---------------------------------------------------------------- Tally's invariants


class Manifests:
    def __init__(self, docs):
        self.docs = docs

    def of(self, kind):
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind, name):
        for d in self.of(kind):
            if d["metadata"]["name"] == name:
                return d
        return None

    def env(self, deployment):
        """The container's settings: its ConfigMaps' data, then literal env values."""
        values = {}
        for c in pod_spec(deployment)["containers"]:
            for ref in c.get("envFrom", []):
                cm = self.get("ConfigMap", (ref.get("configMapRef") or {}).get("name"))
                values.update((cm or {}).get("data", {}))
            for var in c.get("env", []):
                values[var["name"]] = var.get("value", "<from a secret>")
        return values


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def ident(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


def check_workloads(m):
    """Probes, restricted security context, grace period > drain + request timeout."""
    out = []
    for doc in m.of("Deployment") + m.of("Job"):
        spec = pod_spec(doc)
        pod_sc = spec.get("securityContext", {})
        if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            out.append(f"{ident(doc)}: pod seccompProfile must be RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            out.append(f"{ident(doc)}: automountServiceAccountToken must be false (no API access needed)")
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            where = f"{ident(doc)} container {c['name']}"
            if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
                out.append(f"{where}: runAsNonRoot must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"{where}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                out.append(f"{where}: readOnlyRootFilesystem must be true")
            if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                out.append(f"{where}: capabilities must drop ALL")
            for limit in ("cpu", "memory"):
                if limit not in (c.get("resources") or {}).get("limits", {}):
                    out.append(f"{where}: resources.limits.{limit} missing")
        if doc["kind"] != "Deployment":
            continue
        for c in spec["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    out.append(f"{ident(doc)} container {c['name']}: {probe} missing")
                elif "grpc" in c[probe] and not isinstance(c[probe]["grpc"].get("port"), int):
                    out.append(f"{ident(doc)}: {probe}.grpc.port must be a number (named ports are not supported)")
        env = m.env(doc)
        budget = float(env.get("TALLY_SERVER__DRAIN", 0)) + float(env.get("TALLY_SERVER__REQUEST_TIMEOUT", 0))
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace <= budget:
            out.append(f"{ident(doc)}: terminationGracePeriodSeconds {grace} must exceed drain + request timeout ({budget:g} s)")
    return out


def check_grpc_servers(m):
    """The gRPC servers are probed natively and reached over h2c."""
    out = []
    for name in ("command-service", "query-service"):
        doc = m.get("Deployment", name)
        if doc is None:
            out.append(f"Deployment/{name} missing")
            continue
        for c in pod_spec(doc)["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                if "grpc" not in c.get(probe, {}):
                    out.append(f"Deployment/{name}: {probe} must be a native gRPC probe (grpc.health.v1)")
    for svc in m.of("Service"):
        for port in svc["spec"].get("ports", []):
            if port.get("appProtocol") != "kubernetes.io/h2c":
                out.append(f"{ident(svc)} port {port.get('name')}: appProtocol must be kubernetes.io/h2c")
    return out


def check_autoscaling(m):
    """KEDA rejects a target that already has an HPA; lag scaling stops at the partitions."""
    out = []
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in m.of("HorizontalPodAutoscaler")}
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"].get("partitions") for t in m.of("KafkaTopic")}
    for so in m.of("ScaledObject"):
        target = so["spec"]["scaleTargetRef"]["name"]
        if target in hpa_targets:
            out.append(f"{ident(so)}: its target {target} already has a HorizontalPodAutoscaler")
        cap = so["spec"].get("maxReplicaCount", 100)
        for trig in so["spec"]["triggers"]:
            if trig["type"] != "kafka":
                continue
            topic = trig["metadata"].get("topic")
            if topic not in topics:
                out.append(f"{ident(so)}: trigger topic {topic!r} is not a KafkaTopic here")
            elif topics[topic] != cap:
                out.append(f"{ident(so)}: maxReplicaCount {cap} must equal the partitions of {topic} ({topics[topic]})")
    return out


def check_kafka_settings(m):
    """The relay, projector, query-service, KEDA and Strimzi agree on names and sizes."""
    out = []
    command, projector, query = (m.get("Deployment", n) for n in ("command-service", "projector", "query-service"))
    if not (command and projector and query):
        return ["the command-service, projector and query-service Deployments must all be present"]
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t["spec"].get("partitions") for t in m.of("KafkaTopic")}
    relay_partitions = m.env(command).get("TALLY_KAFKA__TOPIC_PARTITIONS")
    for topic, partitions in topics.items():
        if str(partitions) != str(relay_partitions):
            out.append(f"KafkaTopic {topic}: {partitions} partitions, but the relay's TALLY_KAFKA__TOPIC_PARTITIONS is {relay_partitions}")
    penv = m.env(projector)
    for topic in penv.get("TALLY_KAFKA__TOPICS", "").split(","):
        if topic.strip() not in topics:
            out.append(f"Deployment/projector consumes {topic!r}, which is not a KafkaTopic here")
    group = penv.get("TALLY_KAFKA__GROUP_ID")
    if m.env(query).get("TALLY_READ_YOUR_WRITES__PROJECTOR_CONSUMER") != group:
        out.append(f"Deployment/query-service: TALLY_READ_YOUR_WRITES__PROJECTOR_CONSUMER must be the projector's group {group!r}")
    for so in m.of("ScaledObject"):
        for trig in so["spec"]["triggers"]:
            if trig["type"] == "kafka" and trig["metadata"].get("consumerGroup") != group:
                out.append(f"{ident(so)}: consumerGroup must be the projector's group {group!r}")
    if "-ro:" not in m.env(query).get("TALLY_DATABASE__URL", ""):
        out.append("Deployment/query-service: TALLY_DATABASE__URL must point at the read cluster's -ro service")
    return out


def check_routes(m):
    """An HTTPRoute and a GRPCRoute must not share a hostname on one listener."""
    out = []
    listeners = {}
    for gw in m.of("Gateway"):
        for lis in gw["spec"]["listeners"]:
            listeners[(gw["metadata"]["name"], lis["name"])] = lis.get("hostname")
    claimed = {}
    for route in m.of("HTTPRoute") + m.of("GRPCRoute"):
        for parent in route["spec"].get("parentRefs", []):
            section = (parent["name"], parent.get("sectionName"))
            if section not in listeners:
                out.append(f"{ident(route)}: parentRef {section} names no Gateway listener here")
                continue
            for host in route["spec"].get("hostnames", []):
                if listeners[section] and host != listeners[section]:
                    out.append(f"{ident(route)}: hostname {host} does not match listener {section[1]} ({listeners[section]})")
                other = claimed.setdefault(host, route["kind"])
                if other != route["kind"]:
                    out.append(f"{ident(route)}: hostname {host} is also used by a {other}")
    return out


def check_no_secrets(m):
    return [f"{ident(s)}: Secrets are created by operators, never committed" for s in m.of("Secret")]


CHECKS = [check_workloads, check_grpc_servers, check_autoscaling, check_kafka_settings, check_routes, check_no_secrets]


def validate_file(path, crds, versions):
    """Prints every problem in one rendered file; returns how many there were."""
    try:
        with open(path) as f:
            docs = [d for d in yaml.load_all(f, Loader=SafeLoader) if d]
    except yaml.YAMLError as e:
        print(f"FAIL {path}: not YAML: {e}")
        return 1
    if not docs:
        print(f"FAIL {path}: no documents")
        return 1
    found = 0
    for doc in docs:
        for p in schema_problems(doc, crds, versions) + name_problems(doc):
            print(f"FAIL {path} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}: {p}")
            found += 1
    if found:
        return found  # the invariants assume schema-valid documents
    for check in CHECKS:
        for p in check(Manifests(docs)):
            print(f"FAIL {path} {p}")
            found += 1
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--crd-dir", required=True)
    ap.add_argument("-k", "--kubernetes-version", action="append", dest="versions")
    args = ap.parse_args()
    versions = args.versions or ["1.33"]
    crds = load_crds(args.crd_dir)
    problems = 0
    for path in args.files:
        found = validate_file(path, crds, versions)
        if not found:
            print(f"ok   {path}: valid (Kubernetes {', '.join(versions)} and CRD schemas, Tally's invariants)")
        problems += found
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
