"""The Kubernetes manifests in deploy/k8s/, validated offline (no cluster here).

Core objects go through kubernetes-validate (the API's JSON schemas, strict: an unknown
field is an error) for the oldest Kubernetes we target. KEDA's ScaledObject is a custom
resource those schemas do not know: its structure is checked against a schema written
here from KEDA's documentation, its HPA behaviour against the HPA's own schema. Beyond
the schemas: probes on our endpoints and the port the stage serves, every setting a real
setting of its component (and valid), keys in two Secrets that only hold placeholders,
PDBs that select their pods, and no autoscaler above the partition count.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from shopstream.processors.deadletter import DeadLetterKey
from shopstream.processors.engine.settings import AggregateStageSettings, CleanSettings
from shopstream.processors.topics import DEFAULT_PARTITIONS
from shopstream.producers.collector.settings import CollectorSettings
from shopstream.producers.config import TrackerConfig

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
PARTITIONS = DEFAULT_PARTITIONS


def _documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text("utf-8")):
            if doc:
                out.append((path.name, doc))
    return out


def _objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _documents() if doc["kind"] == kind]


def _by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _objects(kind)}


def _workloads() -> list[dict[str, Any]]:
    return _objects("Deployment") + _objects("StatefulSet")


def _core(doc: dict[str, Any]) -> bool:
    return not doc["apiVersion"].startswith(("keda.sh/", "kustomize.config.k8s.io/"))


@pytest.mark.parametrize(
    "doc",
    [doc for _, doc in _documents() if _core(doc)],
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_core_objects_pass_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_is_live() -> None:
    """A typo in a probe is caught: the validation above is not vacuous."""
    deployment = _by_name("Deployment")["shopstream-clean"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pth"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_templates() -> None:
    (kustomization,) = [doc for name, doc in _documents() if name == "kustomization.yaml"]
    names = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == names - {"secrets.example.yaml"}
    assert kustomization["namespace"] == "shopstream"


def test_every_object_lives_in_the_namespace() -> None:
    for _, doc in _documents():
        if doc["kind"] in {"Namespace", "Kustomization"}:
            continue
        assert doc["metadata"]["namespace"] == "shopstream", doc["metadata"]["name"]


# -- workloads ---------------------------------------------------------------------------


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _serving_port(container: dict[str, Any]) -> int:
    args = container["args"]
    if "--metrics-port" in args:
        return int(args[args.index("--metrics-port") + 1])
    return int(_env(container)["SHOPSTREAM_COLLECTOR_PORT"])


def test_probes_ask_our_endpoints_on_the_port_the_process_serves() -> None:
    for workload in _workloads():
        container = _container(workload)
        (port,) = container["ports"]
        assert port["containerPort"] == _serving_port(container), workload["metadata"]["name"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port["containerPort"])


def test_every_container_has_requests_and_limits() -> None:
    for workload in _workloads():
        resources = _container(workload)["resources"]
        for bound in ("requests", "limits"):
            assert set(resources[bound]) == {"cpu", "memory"}, workload["metadata"]["name"]


def test_the_pods_run_unprivileged_and_stop_gracefully() -> None:
    for workload in _workloads():
        spec = workload["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["terminationGracePeriodSeconds"] >= 30
        context = _container(workload)["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True


def test_workload_labels_match_selectors_and_pdbs() -> None:
    workloads = _workloads()
    pdbs = _objects("PodDisruptionBudget")
    assert len(pdbs) == len(workloads)
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert labels["app.kubernetes.io/part-of"] == "shopstream"
        covering = [
            pdb for pdb in pdbs if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, workload["metadata"]["name"]
        (pdb,) = covering
        assert ("maxUnavailable" in pdb["spec"]) != ("minAvailable" in pdb["spec"])


def test_stage_two_is_a_statefulset_with_its_pod_name_as_instance_id_and_a_state_volume() -> None:
    (statefulset,) = _objects("StatefulSet")
    container = _container(statefulset)
    assert container["args"][:2] == ["process", "aggregate"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SHOPSTREAM_INSTANCE_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    state_dir = env["SHOPSTREAM_STATE_DIR"]["value"]
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == state_dir
    assert statefulset["spec"]["serviceName"] in _by_name("Service")
    service = _by_name("Service")[statefulset["spec"]["serviceName"]]
    assert service["spec"]["clusterIP"] == "None"


def _secret_value(name: str) -> str:
    return DeadLetterKey.generate() if "DLQ" in name else secrets.token_urlsafe(32)


def _env(container: dict[str, Any]) -> dict[str, str]:
    """The environment the container gets, with the references resolved (keys: fresh ones)."""
    config_maps = {n: doc.get("data", {}) for n, doc in _by_name("ConfigMap").items()}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        if "fieldRef" in ref:
            env[item["name"]] = "shopstream-aggregate-0"
        elif "configMapKeyRef" in ref:
            env[item["name"]] = config_maps[ref["configMapKeyRef"]["name"]][
                ref["configMapKeyRef"]["key"]
            ]
        else:
            env[item["name"]] = _secret_value(item["name"])
    return env


def _settings_of(container: dict[str, Any]) -> list[type[BaseSettings]]:
    args = container["args"]
    if args[:2] == ["process", "clean"]:
        return [CleanSettings]
    if args[:2] == ["process", "aggregate"]:
        return [AggregateStageSettings]
    assert args == ["collector"], args
    return [CollectorSettings, TrackerConfig]


def known_variables(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            names |= {
                c for c in field.validation_alias.choices if isinstance(c, str) and c.isupper()
            }
        names.add(f"{prefix}{name}".upper())
    return names


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("SHOPSTREAM_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    "workload", _workloads(), ids=lambda w: f"{w['kind']}/{w['metadata']['name']}"
)
def test_every_variable_is_a_real_setting_and_the_settings_load(
    workload: dict[str, Any], clean_environment: pytest.MonkeyPatch
) -> None:
    container = _container(workload)
    env = _env(container)
    classes = _settings_of(container)
    known = set().union(*(known_variables(c) for c in classes))
    unknown = {n for n in env if n.startswith("SHOPSTREAM_") and n not in known}
    assert not unknown, f"{workload['metadata']['name']}: not settings of it: {unknown}"
    for name, value in env.items():
        clean_environment.setenv(name, value)
    for settings in classes:
        loaded = settings()
        if isinstance(loaded, CleanSettings | AggregateStageSettings):
            assert loaded.metrics_host == "0.0.0.0"  # noqa: S104 — a pod serves its probes
            assert loaded.metrics_port is None  # the port is the command-line option
            assert loaded.instance_id == "shopstream-aggregate-0"


def test_the_two_keys_come_from_two_secrets_that_hold_only_placeholders() -> None:
    refs = {}
    for workload in _workloads():
        for item in _container(workload).get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs[item["name"]] = (workload["metadata"]["name"], ref["name"], ref["key"])
    assert set(refs) == {"SHOPSTREAM_PSEUDONYM_KEY", "SHOPSTREAM_DLQ_KEY"}
    assert {workload for workload, _, _ in refs.values()} == {"shopstream-clean"}
    assert refs["SHOPSTREAM_PSEUDONYM_KEY"][1] != refs["SHOPSTREAM_DLQ_KEY"][1]
    secrets_by_name = _by_name("Secret")
    for _, secret, key in refs.values():
        data = secrets_by_name[secret]["stringData"]
        assert set(data) == {key}
        assert data[key].startswith("REPLACE_ME"), "a real key in the repository"
    (role,) = _objects("Role")
    (rule,) = role["rules"]
    assert rule["resourceNames"] == [refs["SHOPSTREAM_DLQ_KEY"][1]]
    assert rule["verbs"] == ["get"]


# -- KEDA ----------------------------------------------------------------------------------
# ScaledObject (keda.sh/v1alpha1) as KEDA 2.x documents it, closed: an unknown field fails.
_KAFKA_METADATA = {
    "bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
    "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag", "version",
    "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag", "partitionLimitation",
    "sasl", "tls", "unsafeSsl", "ensureEvenDistributionOfPartitions",
}  # fmt: skip
_INT_STRING = {"type": "string", "pattern": "^[0-9]+$"}
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers", "maxReplicaCount"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {"type": "object"},
                            },
                        },
                        "scalingModifiers": {"type": "object"},
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "kafka"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {"type": "string"},
                                },
                            },
                            "metadata": {
                                "type": "object",
                                "required": [
                                    "bootstrapServers",
                                    "consumerGroup",
                                    "topic",
                                    "lagThreshold",
                                ],
                                "propertyNames": {"enum": sorted(_KAFKA_METADATA)},
                                # KEDA reads every trigger parameter as a string.
                                "additionalProperties": {"type": "string"},
                                "properties": {
                                    "lagThreshold": _INT_STRING,
                                    "activationLagThreshold": _INT_STRING,
                                    "offsetResetPolicy": {"enum": ["earliest", "latest"]},
                                    "allowIdleConsumers": {"enum": ["true", "false"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def _scaled_objects() -> list[dict[str, Any]]:
    objects = _objects("ScaledObject")
    assert len(objects) == 2
    return objects


@pytest.mark.parametrize("scaled", _scaled_objects(), ids=lambda s: s["metadata"]["name"])
def test_scaled_object_structure(scaled: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCALED_OBJECT_SCHEMA).validate(scaled)
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "x"},
            "maxReplicas": scaled["spec"]["maxReplicaCount"],
            "behavior": behavior,
        },
    }
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)


def test_the_keda_schema_rejects_what_keda_would() -> None:
    validator = jsonschema.Draft202012Validator(SCALED_OBJECT_SCHEMA)
    scaled = _scaled_objects()[0]
    for breakage in (
        lambda s: s["spec"].update(maxReplicas=6),  # the HPA's name, not KEDA's
        lambda s: s["spec"]["triggers"][0]["metadata"].update(lagThreshold=5000),  # not a string
        lambda s: s["spec"]["triggers"][0]["metadata"].update(consumergroup="x"),  # spelling
        lambda s: s["spec"]["triggers"][0]["metadata"].pop("topic"),
    ):
        broken = yaml.safe_load(yaml.safe_dump(scaled))
        breakage(broken)
        assert not validator.is_valid(broken)


@pytest.mark.parametrize("scaled", _scaled_objects(), ids=lambda s: s["metadata"]["name"])
def test_each_stage_scales_on_its_own_group_and_input_never_above_the_partitions(
    scaled: dict[str, Any],
) -> None:
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    workload = {**_by_name("Deployment"), **_by_name("StatefulSet")}[target["name"]]
    assert (target["apiVersion"], target["kind"]) == (workload["apiVersion"], workload["kind"])
    assert "replicas" not in workload["spec"], "the autoscaler owns the replica count"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= PARTITIONS
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    assert meta["allowIdleConsumers"] == "false"  # never more consumers than partitions
    assert int(meta["lagThreshold"]) > 0
    env = _env(_container(workload))
    stage = _container(workload)["args"][1]
    assert meta["bootstrapServers"] == env["SHOPSTREAM_BOOTSTRAP_SERVERS"]
    if stage == "clean":
        assert meta["consumerGroup"] == env["SHOPSTREAM_CLEAN_GROUP"]
        assert meta["topic"] == env["SHOPSTREAM_RAW_TOPIC"]
    else:
        assert meta["consumerGroup"] == env["SHOPSTREAM_AGGREGATE_GROUP"]
        assert meta["topic"] == env["SHOPSTREAM_CLEAN_TOPIC"]


def test_both_stages_are_scaled() -> None:
    targets = {s["spec"]["scaleTargetRef"]["name"] for s in _scaled_objects()}
    assert targets == {"shopstream-clean", "shopstream-aggregate"}
