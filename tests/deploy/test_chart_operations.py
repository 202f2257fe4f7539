"""The chart's operations side: autoscaling, disruption budgets, NetworkPolicies, the migration
Job, GPU scheduling, prometheus-operator objects, the Grafana dashboards ConfigMap, the values
schema, and the umbrella chart that adds Postgres, Kafka and MinIO as dependencies.

Rendered with Helm's Go SDK (the `helm-python-sdk` wheel) for the default values and for the
committed production-like values (deploy/helm/annotary/ci/production-values.yaml).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "annotary"
STACK_DIR = REPO_ROOT / "deploy" / "helm" / "annotary-stack"
PRODUCTION_VALUES: dict[str, Any] = yaml.safe_load(
    (CHART_DIR / "ci" / "production-values.yaml").read_text(encoding="utf-8")
)
ALERTS_FILE = CHART_DIR / "files" / "prometheus" / "alerts.yaml"
DASHBOARD_DIR = CHART_DIR / "files" / "grafana"
KUBE_VERSION = "v1.30.0"
RELEASE = "annotary"
NAMESPACE = "annotary"
SERVICES = ("annotation-api", "orchestrator", "qa", "ingest", "export", "preannotate")
# Services with a consumer group (annotary-<name>) whose lag can drive an HPA.
CONSUMERS = ("orchestrator", "qa", "export", "preannotate")


def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    objects: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if path.endswith((".yaml", ".yml")):
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _by_component(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in _of_kind(objects, kind)}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@pytest.fixture(scope="module")
def default_objects() -> list[dict[str, Any]]:
    return _render()


@pytest.fixture(scope="module")
def production_objects() -> list[dict[str, Any]]:
    return _render(PRODUCTION_VALUES)


def test_production_values_are_production_like() -> None:
    """The committed example must keep exercising every optional part of the chart."""
    services = PRODUCTION_VALUES["services"]
    assert set(services) == set(SERVICES)
    for name, svc in services.items():
        assert svc["replicas"] > 1, name
        assert svc["autoscaling"]["enabled"] is True, name
        assert svc["podDisruptionBudget"]["enabled"] is True, name
    assert services["preannotate"]["gpu"] >= 1
    assert PRODUCTION_VALUES["networkPolicy"]["enabled"] is True
    assert PRODUCTION_VALUES["metrics"]["serviceMonitor"]["enabled"] is True
    assert PRODUCTION_VALUES["metrics"]["prometheusRule"]["enabled"] is True
    assert PRODUCTION_VALUES["existingSecret"], "credentials come from a Secret managed outside the chart"
    assert PRODUCTION_VALUES["kafka"]["bootstrap"] and PRODUCTION_VALUES["s3"]["bucket"]


# --- scaling -----------------------------------------------------------------------------------


def test_defaults_have_no_hpa_and_fixed_replicas(default_objects: list[dict[str, Any]]) -> None:
    assert _of_kind(default_objects, "HorizontalPodAutoscaler") == []
    for name, deployment in _by_component(default_objects, "Deployment").items():
        assert deployment["spec"]["replicas"] >= 1, name


def test_hpa_per_service_on_cpu_and_consumer_lag(production_objects: list[dict[str, Any]]) -> None:
    hpas = _by_component(production_objects, "HorizontalPodAutoscaler")
    deployments = _by_component(production_objects, "Deployment")
    assert set(hpas) == set(SERVICES)
    for name, hpa in hpas.items():
        values = PRODUCTION_VALUES["services"][name]["autoscaling"]
        spec = hpa["spec"]
        target = spec["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] == deployments[name]["metadata"]["name"]
        # The HPA owns the replica count: the Deployment must not reset it on every upgrade.
        assert "replicas" not in deployments[name]["spec"], name
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (values["minReplicas"], values["maxReplicas"])
        metrics = {m["type"]: m for m in spec["metrics"]}
        if values.get("targetCPUUtilizationPercentage"):
            cpu = metrics["Resource"]["resource"]
            assert cpu["name"] == "cpu"
            wanted = values["targetCPUUtilizationPercentage"]
            assert cpu["target"] == {"type": "Utilization", "averageUtilization": wanted}
        else:
            assert "Resource" not in metrics, name
        lag = values.get("consumerLag", {})
        if lag.get("enabled"):
            assert name in CONSUMERS, f"{name} has no consumer group to scale on"
            external = metrics["External"]["external"]
            assert external["metric"]["name"] == "annotary_consumer_lag"
            assert external["metric"]["selector"]["matchLabels"] == {"group": f"annotary-{name}"}
            assert external["target"] == {"type": "AverageValue", "averageValue": str(lag["averageValue"])}
        else:
            assert "External" not in metrics, name
    # The GPU workers scale on their backlog only.
    assert [m["type"] for m in hpas["preannotate"]["spec"]["metrics"]] == ["External"]


def test_hpa_without_any_metric_or_with_inverted_bounds_is_refused() -> None:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        with pytest.raises(helm.HelmError, match="needs targetCPUUtilizationPercentage or consumerLag"):
            chart.render(
                {"services": {"qa": {"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None}}}},
                name=RELEASE,
                namespace=NAMESPACE,
            )
        with pytest.raises(helm.HelmError, match="minReplicas is above maxReplicas"):
            chart.render(
                {"services": {"qa": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}}},
                name=RELEASE,
                namespace=NAMESPACE,
            )


@pytest.mark.parametrize("which", ["default", "production"])
def test_pdb_per_service_never_blocks_a_drain(
    which: str, default_objects: list[dict[str, Any]], production_objects: list[dict[str, Any]]
) -> None:
    objects = default_objects if which == "default" else production_objects
    pdbs = _by_component(objects, "PodDisruptionBudget")
    deployments = _by_component(objects, "Deployment")
    hpas = _by_component(objects, "HorizontalPodAutoscaler")
    assert set(pdbs) == set(SERVICES)
    for name, pdb in pdbs.items():
        spec = pdb["spec"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert _matches(spec["selector"]["matchLabels"], pod_labels), name
        assert len([k for k in ("minAvailable", "maxUnavailable") if k in spec]) == 1, name
        smallest = hpas[name]["spec"]["minReplicas"] if name in hpas else deployments[name]["spec"]["replicas"]
        if "minAvailable" in spec:
            # minAvailable equal to the replica count would forbid every eviction.
            assert spec["minAvailable"] < smallest, name
        else:
            assert spec["maxUnavailable"] >= 1, name
    assert pdbs["annotation-api"]["spec"].get("minAvailable") == (2 if which == "production" else None)


def test_pdb_can_be_switched_off() -> None:
    objects = _render({"services": {name: {"podDisruptionBudget": {"enabled": False}} for name in SERVICES}})
    assert _of_kind(objects, "PodDisruptionBudget") == []


# --- GPU -----------------------------------------------------------------------------------------


def test_preannotate_runs_on_gpu_nodes(production_objects: list[dict[str, Any]]) -> None:
    deployments = _by_component(production_objects, "Deployment")
    values = PRODUCTION_VALUES["services"]["preannotate"]
    pod = deployments["preannotate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == values["gpu"]
    assert container["resources"]["requests"]["nvidia.com/gpu"] == values["gpu"]
    assert container["resources"]["limits"]["memory"] == values["resources"]["limits"]["memory"]
    assert pod["nodeSelector"] == values["nodeSelector"]
    assert pod["affinity"] == values["affinity"]
    assert pod["runtimeClassName"] == "nvidia"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    for toleration in values["tolerations"]:
        assert toleration in pod["tolerations"]
    for name, deployment in deployments.items():
        if name != "preannotate":
            other = deployment["spec"]["template"]["spec"]
            assert "nvidia.com/gpu" not in other["containers"][0]["resources"].get("limits", {}), name
            assert "runtimeClassName" not in other, name


# --- network policies -----------------------------------------------------------------------------


def test_network_policies_are_off_by_default(default_objects: list[dict[str, Any]]) -> None:
    assert _of_kind(default_objects, "NetworkPolicy") == []


def test_network_policy_per_service(production_objects: list[dict[str, Any]]) -> None:
    policies = _by_component(production_objects, "NetworkPolicy")
    deployments = _by_component(production_objects, "Deployment")
    assert set(policies) == set(SERVICES)
    all_pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
    np_values = PRODUCTION_VALUES["networkPolicy"]
    for name, policy in policies.items():
        spec = policy["spec"]
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        # It selects this service's pods and no other service's.
        selected = [labels for labels in all_pod_labels if _matches(spec["podSelector"]["matchLabels"], labels)]
        assert selected == [deployments[name]["spec"]["template"]["metadata"]["labels"]], name
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        ingress_ports = {p["port"] for rule in spec["ingress"] for p in rule.get("ports", [])}
        assert ingress_ports <= port_names, f"{name}: a rule names a port the pod lacks"
        assert ingress_ports == port_names, f"{name}: a port is unreachable"
        # Every other service of the release may call it (gRPC) ...
        peers = spec["ingress"][0]["from"]
        assert all(any(_matches(p["podSelector"]["matchLabels"], labels) for p in peers) for labels in all_pod_labels)
        # ... Prometheus may scrape it ...
        assert any(rule.get("from") == np_values["metricsFrom"] for rule in spec["ingress"]), name
        # ... and only the API is open to the ingress controller.
        api_rules = [rule for rule in spec["ingress"] if rule.get("from") == np_values["apiFrom"]]
        assert bool(api_rules) == (name == "annotation-api"), name
        egress_ports = {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}
        assert {53, 5432, 9092, 4317, 443} <= egress_ports, name


def test_default_network_policy_leaves_the_api_open_to_any_source() -> None:
    objects = _render({"networkPolicy": {"enabled": True}})
    policies = _by_component(objects, "NetworkPolicy")
    assert policies["annotation-api"]["spec"]["policyTypes"] == ["Ingress"]
    open_rules = [r for r in policies["annotation-api"]["spec"]["ingress"] if "from" not in r]
    assert open_rules == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert all("from" in r for r in policies["qa"]["spec"]["ingress"])


# --- migrations ------------------------------------------------------------------------------------


def _hook(obj: dict[str, Any]) -> dict[str, str]:
    annotations = obj["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith("helm.sh/hook")}


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook(default_objects: list[dict[str, Any]]) -> None:
    (job,) = _of_kind(default_objects, "Job")
    hook = _hook(job)
    assert set(hook["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in hook["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["activeDeadlineSeconds"] > 0
    # One container per service, each in that service's own image (which holds its migrations).
    deployments = _by_component(default_objects, "Deployment")
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {f"migrate-{name}" for name in SERVICES}
    for name in SERVICES:
        container = containers[f"migrate-{name}"]
        assert container["image"] == deployments[name]["spec"]["template"]["spec"]["containers"][0]["image"]
        assert container["command"] == ["python", "-m", "annotary_common.migrate", name]
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The hook runs before the release's Secret exists: its own Secret is a hook created first.
    secret_refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in pod["containers"]
        for e in c["env"]
        if e["name"] == "ANNOTARY_DATABASE_URL"
    }
    (secret_name,) = secret_refs
    (hook_secret,) = [s for s in _of_kind(default_objects, "Secret") if s["metadata"]["name"] == secret_name]
    assert set(_hook(hook_secret)["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(_hook(hook_secret)["helm.sh/hook-weight"]) < int(hook.get("helm.sh/hook-weight", "0"))
    assert set(hook_secret["data"]) == {"ANNOTARY_DATABASE_URL"}
    # The release's own ServiceAccount does not exist yet either.
    assert "serviceAccountName" not in pod


def test_migration_job_uses_an_existing_secret_and_enabled_services(
    production_objects: list[dict[str, Any]],
) -> None:
    (job,) = _of_kind(production_objects, "Job")
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in job["spec"]["template"]["spec"]["containers"]
        for e in c["env"]
        if "valueFrom" in e
    }
    assert refs == {PRODUCTION_VALUES["existingSecret"]}
    assert _of_kind(production_objects, "Secret") == []
    assert job["spec"]["template"]["spec"]["imagePullSecrets"] == PRODUCTION_VALUES["imagePullSecrets"]
    objects = _render({"services": {"export": {"enabled": False}}})
    (job,) = _of_kind(objects, "Job")
    assert "migrate-export" not in {c["name"] for c in job["spec"]["template"]["spec"]["containers"]}
    assert _of_kind(_render({"migrations": {"enabled": False}}), "Job") == []


# --- prometheus-operator and Grafana ------------------------------------------------------------------


def test_monitoring_objects_are_off_by_default(default_objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in default_objects}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}


def test_service_monitor_scrapes_every_service(production_objects: list[dict[str, Any]]) -> None:
    (monitor,) = _of_kind(production_objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert set(spec) == {"selector", "namespaceSelector", "endpoints"}
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    services = _by_component(production_objects, "Service")
    selected = {
        name for name, svc in services.items() if _matches(spec["selector"]["matchLabels"], svc["metadata"]["labels"])
    }
    assert selected == set(SERVICES)
    (endpoint,) = spec["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["scheme"] == "http"
    # The metrics carry their own "service" label, which must win over the target label.
    assert endpoint["honorLabels"] is True
    for name, svc in services.items():
        assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}, name
    for key in ("interval", "scrapeTimeout"):
        assert re.fullmatch(r"\d+(ms|s|m|h)", endpoint[key]), key


def test_prometheus_rule_carries_the_alert_file(production_objects: list[dict[str, Any]]) -> None:
    (rule,) = _of_kind(production_objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    alerts = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    assert rule["spec"]["groups"] == alerts["groups"]
    names = set()
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["rules"], group["name"]
        for entry in group["rules"]:
            assert set(entry) <= {"alert", "expr", "for", "labels", "annotations"}, entry
            assert entry["alert"] not in names, f"duplicate alert {entry['alert']}"
            names.add(entry["alert"])
            assert isinstance(entry["expr"], str) and entry["expr"].strip()
            assert entry["labels"]["severity"] in {"warning", "critical"}
            assert {"summary", "description"} <= set(entry["annotations"])
            if "for" in entry:
                assert re.fullmatch(r"(\d+(ms|s|m|h|d))+", entry["for"]), entry["alert"]


def test_dashboards_configmap_holds_every_dashboard(production_objects: list[dict[str, Any]]) -> None:
    maps = [c for c in _of_kind(production_objects, "ConfigMap") if c["metadata"]["name"].endswith("-dashboards")]
    (dashboards,) = maps
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboards["metadata"]["annotations"] == {"grafana_folder": "Annotary"}
    files = sorted(DASHBOARD_DIR.glob("*.json"))
    assert len(files) >= 3
    assert sorted(dashboards["data"]) == [f.name for f in files]
    for file in files:
        assert json.loads(dashboards["data"][file.name]) == json.loads(file.read_text(encoding="utf-8"))
    # A ConfigMap is capped at 1 MiB.
    assert sum(len(v) for v in dashboards["data"].values()) < 900_000


# --- values schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"services": {"qa": {"autoscaling": {"enabled": True, "targetCpu": 50}}}},
        {"services": {"qa": {"autoscaling": {"enabled": True, "minReplicas": 0}}}},
        {"services": {"qa": {"podDisruptionBudget": {"enabled": True, "minAvailable": "half"}}}},
        {"services": {"qa": {"resources": {"limits": {"memory": "lots"}}}}},
        {"networkPolicy": {"enabled": "yes"}},
        {"networkPolicy": {"apiFrom": [{"pods": {}}]}},
        {"metrics": {"serviceMonitor": {"interval": "soon"}}},
        {"metrics": {"grafanaDashboard": {"enabled": True}}},
        {"migrations": {"backoffLimit": -1}},
        {"containerSecurityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}},
        {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}},
        {"containerSecurityContext": {"runAsUser": 0}},
    ],
    ids=[
        "unknown-autoscaling-key",
        "zero-min-replicas",
        "bad-pdb",
        "bad-quantity",
        "networkpolicy-not-bool",
        "bad-peer",
        "bad-interval",
        "misspelt-metrics-key",
        "negative-backoff",
        "added-capability",
        "unconfined-seccomp",
        "root-user",
    ],
)
def test_values_schema_rejects(values: dict[str, Any]) -> None:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)


def test_values_schema_accepts_the_shipped_values() -> None:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        chart.validate_schema({})
        chart.validate_schema(PRODUCTION_VALUES)
        schema = chart.schema
    assert schema is not None
    # Every top-level value is described, and unknown ones are refused.
    assert schema["additionalProperties"] is False
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert set(defaults) <= set(schema["properties"])
    service_keys = set(schema["definitions"]["service"]["properties"])
    for name, svc in defaults["services"].items():
        assert set(svc) <= service_keys, name


# --- the umbrella chart with in-cluster dependencies ------------------------------------------------


def test_umbrella_chart_declares_documented_dependencies() -> None:
    """deploy/helm/annotary-stack: this chart plus Postgres, Kafka and MinIO, each behind a condition.

    It is kept apart because Helm refuses to render a chart whose declared dependencies are not
    vendored, even disabled ones: the main chart must stay renderable offline."""
    chart = yaml.safe_load((STACK_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    values = yaml.safe_load((STACK_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert "dependencies" not in yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    deps = {d["name"]: d for d in chart["dependencies"]}
    assert set(deps) == {"annotary", "postgresql", "kafka", "minio"}
    assert deps["annotary"]["repository"] == "file://../annotary"
    main = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    assert deps["annotary"]["version"] == main["version"]
    for name in ("postgresql", "kafka", "minio"):
        dep = deps[name]
        assert dep["repository"].startswith(("oci://", "https://")), name
        assert dep["condition"] == f"{name}.enabled", name
        assert isinstance(values[name]["enabled"], bool), name
    # The subcharts' Services have fixed names, and the annotary values point at them.
    annotary = values["annotary"]
    assert annotary["kafka"]["bootstrap"] == f"{values['kafka']['fullnameOverride']}:9092"
    assert f"@{values['postgresql']['fullnameOverride']}:5432/" in annotary["database"]["url"]
    assert annotary["s3"]["endpointUrl"] == f"http://{values['minio']['fullnameOverride']}:9000"
    assert annotary["s3"]["bucket"] in values["minio"]["defaultBuckets"].split(",")
    db = values["postgresql"]["auth"]
    assert annotary["database"]["url"].endswith(f"/{db['database']}")
    assert f"//{db['username']}:{db['password']}@" in annotary["database"]["url"]
    minio_auth = values["minio"]["auth"]
    assert (annotary["s3"]["accessKeyId"], annotary["s3"]["secretAccessKey"]) == (
        minio_auth["rootUser"],
        minio_auth["rootPassword"],
    )
    assert values["kafka"]["listeners"]["client"]["protocol"] == "PLAINTEXT"
    assert values["kafka"]["kraft"]["enabled"] is True
    # What the umbrella passes to this chart passes this chart's schema.
    with helm.Chart.load(str(CHART_DIR)) as main_chart:
        main_chart.validate_schema(annotary)


def test_umbrella_chart_renders_annotary_against_its_dependencies(tmp_path: Path) -> None:
    """Render the umbrella with the annotary chart vendored like `helm dependency build` would (the
    Bitnami charts need the network, so they are left out): the services point at the subcharts'
    Services."""
    stack = tmp_path / "annotary-stack"
    shutil.copytree(STACK_DIR, stack)
    shutil.copytree(CHART_DIR, stack / "charts" / "annotary")
    listed = {d["name"]: d["status"] for d in helm.dependency_list(str(stack))}
    assert listed["annotary"] in {"ok", "unpacked"}
    with helm.Chart.load(str(stack)) as chart:
        manifests = chart.render({}, name="demo", namespace="annotary")
    objects = [
        doc
        for path, text in sorted(manifests.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    assert {o["metadata"]["labels"]["app.kubernetes.io/component"] for o in _of_kind(objects, "Deployment")} == set(
        SERVICES
    )
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSION.lstrip("v"), strict=True)
    (config,) = [c for c in _of_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-config")]
    assert config["data"]["ANNOTARY_KAFKA_BOOTSTRAP"] == "annotary-kafka:9092"
    assert config["data"]["ANNOTARY_S3_ENDPOINT_URL"] == "http://annotary-minio:9000"
    secrets = {s["metadata"]["name"]: s for s in _of_kind(objects, "Secret")}
    assert any(
        "ANNOTARY_S3_SECRET_ACCESS_KEY" in secret["data"] and "ANNOTARY_DATABASE_URL" in secret["data"]
        for secret in secrets.values()
    )

