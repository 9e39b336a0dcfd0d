"""k8s/: the Kubernetes manifests, valid for Kubernetes 1.37 and in step with the image and
the code (port, probes, variables, user), checked offline: no cluster, no Docker."""

import re
import runpy
from pathlib import Path

import pytest
import yaml

STEP = Path(__file__).resolve().parent.parent
K8S = STEP / "k8s"
KUBERNETES_VERSION = "1.37"
MANIFESTS = sorted(path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")
REFERENCE = re.compile(r"\$\((\w+)\)")  # how Kubernetes names a variable inside a value


def load(name: str) -> list[dict]:
    """The objects of one file of k8s/."""
    return [obj for obj in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if obj]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict]:
    """Every object of every manifest, by (kind, name)."""
    return {(o["kind"], o["metadata"]["name"]): o for name in MANIFESTS for o in load(name)}


@pytest.fixture(scope="module")
def api(objects) -> dict:
    """The Deployment of the API."""
    return objects["Deployment", "todo-api"]


@pytest.fixture(scope="module")
def container(api) -> dict:
    """The API's one container."""
    (container,) = api["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def image_port() -> int:
    """The port the image listens on: serve.py's default for PORT."""
    serve = (STEP / "server" / "serve.py").read_text(encoding="utf-8")
    (port,) = re.findall(r"os\.environ\.get\(\"PORT\", \"(\d+)\"\)", serve)
    return int(port)


def port_number(port: int | str, container: dict) -> int:
    """A port as a number: a name is looked up among the container's ports."""
    named = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    return named[port] if isinstance(port, str) else port


def config_map_keys(objects, container: dict) -> set[str]:
    """The variables a container takes from whole ConfigMaps (envFrom)."""
    sources = [source["configMapRef"]["name"] for source in container.get("envFrom", [])]
    return {key for name in sources for key in objects["ConfigMap", name]["data"]}


def pod_containers(objects) -> list[dict]:
    """The containers of every Deployment and StatefulSet."""
    pods = [o for o in objects.values() if o["kind"] in ("Deployment", "StatefulSet")]
    return [c for pod in pods for c in pod["spec"]["template"]["spec"]["containers"]]


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_manifest_is_valid_for_kubernetes(name):
    """Strict: a misspelled or misplaced field fails here, not at `kubectl apply`."""
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate",
        reason="needs kubernetes-validate: pip install -r requirements-dev.txt",
    )
    for obj in load(name):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(
                f"{name}, {obj['kind']} {obj['metadata']['name']}: {where}: {error.message}"
            )


def test_kustomization_applies_every_manifest_but_the_example_secret():
    """`kubectl apply -k k8s` must not replace the real Secret with the placeholders."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == [
        m for m in MANIFESTS if m != "secret.example.yaml"
    ]


def test_the_api_runs_two_copies_of_the_local_image_with_resources(api, container):
    """Two pods, so one can restart while the other serves; a fixed tag that `kind load`
    provides; requests and limits, so that one pod cannot starve the machine."""
    assert api["spec"]["replicas"] >= 2
    assert container["image"] == "todo-api:1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}


def test_the_ports_are_the_images_port(objects, container, image_port, dockerfile):
    """containerPort, the Service's targetPort and PORT all say what the image listens on."""
    assert [arguments for name, arguments in dockerfile if name == "EXPOSE"] == [str(image_port)]
    assert [p["containerPort"] for p in container["ports"]] == [image_port]
    assert int(objects["ConfigMap", "todo-config"]["data"]["PORT"]) == image_port
    (service_port,) = objects["Service", "todo-api"]["spec"]["ports"]
    assert port_number(service_port["targetPort"], container) == image_port


@pytest.mark.parametrize(
    ("probe", "path"), [("readinessProbe", "/ready"), ("livenessProbe", "/health")]
)
def test_the_probes_ask_routes_the_app_answers(container, client, image_port, probe, path):
    """Readiness asks /ready (the database answers), liveness /health (the process answers),
    on the image's port; both answer 200 here, with SQLite."""
    request = container[probe]["httpGet"]
    assert request["path"] == path
    assert port_number(request["port"], container) == image_port
    assert client.get(request["path"]).status_code == 200


def test_readiness_waits_longer_than_the_app_waits_for_the_database(container):
    """/ready answers 503 after WAIT_SECONDS without a database: the probe must hear it."""
    from repository import PostgresTodoRepository

    assert container["readinessProbe"]["timeoutSeconds"] > PostgresTodoRepository.WAIT_SECONDS


def test_the_api_sets_exactly_the_variables_the_server_reads(objects, container, variables_to_set):
    """Every variable the server reads is set; any other only helps to build one of them."""
    read = variables_to_set
    values = {name: "" for name in config_map_keys(objects, container)}
    values |= {variable["name"]: variable.get("value", "") for variable in container["env"]}
    referenced = {name for value in values.values() for name in REFERENCE.findall(value)}
    assert read <= set(values), f"not set: {sorted(read - set(values))}"
    assert set(values) - read <= referenced, (
        f"read by nobody: {sorted(set(values) - read - referenced)}"
    )


def test_database_url_names_the_database_service_and_variables_set_before_it(objects, container):
    """Kubernetes replaces $(NAME) only for a variable set earlier; any other stays as text."""
    names = [variable["name"] for variable in container["env"]]
    position = names.index("DATABASE_URL")
    earlier = config_map_keys(objects, container) | set(names[:position])
    url = container["env"][position]["value"]
    assert set(REFERENCE.findall(url)) <= earlier
    (db_port,) = objects["Service", "todo-db"]["spec"]["ports"]
    assert re.fullmatch(
        rf"postgresql://\$\(\w+\):\$\(\w+\)@todo-db:{db_port['port']}/\$\(\w+\)", url
    ), url


def test_every_config_map_and_secret_key_the_pods_use_exists(objects):
    """A missing key stops a pod at start (CreateContainerConfigError)."""
    for container in pod_containers(objects):
        for variable in container.get("env", []):
            source = variable.get("valueFrom", {})
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                assert ref["key"] in objects["ConfigMap", ref["name"]]["data"], variable["name"]
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                assert ref["key"] in objects["Secret", ref["name"]]["stringData"], variable["name"]


def test_the_example_secret_holds_only_placeholders(objects):
    """No real password or token in git: the real Secret is made with `kubectl create secret`."""
    values = objects["Secret", "todo-secrets"]["stringData"].values()
    assert all(value.startswith("change-me") for value in values)


def test_the_api_runs_as_the_images_user_without_root_rights(api, container, dockerfile):
    """The Dockerfile's numeric USER, no way back to root, and a read-only image."""
    (user,) = [arguments for name, arguments in dockerfile if name == "USER"]
    uid, _, gid = user.partition(":")
    pod = api["spec"]["template"]["spec"]
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["readOnlyRootFilesystem"] is True
    # Python's tempfile, and any library that uses it, writes in /tmp: a volume of its own.
    (tmp,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


def test_the_grace_period_covers_the_pause_and_the_servers_shutdown(api, container):
    """Killed before serve.py's SHUTDOWN_SECONDS, a pod would cut requests off halfway."""
    graceful = runpy.run_path(str(STEP / "server" / "serve.py"))["SHUTDOWN_SECONDS"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pause + graceful


@pytest.mark.parametrize("name", ["todo-api", "todo-db"])
def test_each_service_selects_its_pods(objects, name):
    """A selector that matches no pod's labels leaves the Service with nobody to call."""
    (pods,) = [
        o
        for o in objects.values()
        if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == name
    ]
    labels = pods["spec"]["template"]["metadata"]["labels"]
    assert objects["Service", name]["spec"]["selector"].items() <= labels.items()
    assert pods["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_postgres_is_the_database_compose_runs(objects):
    """The same image and variables as compose.yaml's db, its data on a disk of its own."""
    compose = yaml.safe_load((STEP / "compose.yaml").read_text(encoding="utf-8"))
    db = compose["services"]["db"]
    statefulset = objects["StatefulSet", "todo-db"]
    (postgres,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert postgres["image"] == db["image"]
    assert {variable["name"] for variable in postgres["env"]} == set(db["environment"])
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in postgres["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == db["volumes"][0].partition(":")[2]
    assert "pg_isready" in " ".join(postgres["readinessProbe"]["exec"]["command"])
