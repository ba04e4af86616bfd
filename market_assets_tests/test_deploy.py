"""Static checks of deploy/: what can be verified without Docker, a cluster or helm.

* Every YAML file parses.
* Compose: each service's image is built from an existing Dockerfile and context,
  or is a pinned external image; named volumes, secrets and ``depends_on``
  targets are declared; every ``${VAR}`` is documented in ``deploy/.env.example``,
  and the file interpolated as compose does with that example (its empty secrets
  filled in) resolves every variable; no password is a literal; the Celery broker
  URL logs in to the ``rabbitmq`` service as its user, the backend is ``redis``,
  and the services that use them wait for both to be healthy; RabbitMQ's
  ``consumer_timeout`` exceeds the hour Redis' ``visibility_timeout`` allows a step;
  every Dagster process gets the instance's variables and the event-batching
  settings; ``MARKET_ASSETS_*`` names are settings the code reads; only the
  proxy publishes ports, on loopback unless configured; the workspace points
  at the code server.
* Images: ``uv sync --frozen --no-dev``, ``UV_COMPILE_BYTECODE=1``, a non-root
  user; every ``COPY`` source exists and passes the image's ``.dockerignore``;
  every command (image default, compose, Helm) runs an executable of a package
  the image installs from ``uv.lock``, its ``-m``/``-A`` modules exist, and the
  files it names are copied into the image.
* ``deploy/dagster.yaml`` passes Dagster's own instance schema and its custom
  storage class's (a misspelt key or an unset variable is refused: the check is
  real) and, against the local PostgreSQL, becomes a working ``DagsterInstance``.
* Helm values: only keys of the official chart's schema, K8sRunLauncher, one
  user-code deployment, external PostgreSQL, secrets only by reference.
* The README's Deployment section names every file in deploy/.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._config.field_utils import Shape
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config, dagster_instance_config_schema

from market_assets.defs.executors import AMQP_SCHEMES, BACKEND_VARIABLE, BROKER_VARIABLE, load_celery_settings
from market_assets.settings import REPO_ROOT, VARIABLES
from market_assets_tests import services

DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yaml"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"
BATCHING = {"DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}
DAGSTER_EXECUTABLES = ("dagster", "dagster-webserver", "dagster-daemon", "dagster-celery")
SETTINGS_VARIABLES = set(VARIABLES) | {BROKER_VARIABLE, BACKEND_VARIABLE}

# Keys of Dagster's official Helm chart (dagster-io/dagster helm/dagster, chart 1.13: the pydantic
# schema in helm/dagster/schema/schema/charts/dagster/values.py and its subschemas, from which the
# chart's values.schema.json is generated), for the sections these values set.
CHART_TOP_LEVEL_KEYS = {
    "global", "nameOverride", "fullnameOverride", "rbacEnabled", "dagsterWebserver", "dagster-user-deployments",
    "postgresql", "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "rabbitmq", "redis", "flower",
    "ingress", "imagePullSecrets", "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon",
    "busybox", "migrate", "telemetry", "serviceAccount", "retention", "concurrency", "additionalInstanceConfig",
}  # fmt: skip
CHART_SECTION_KEYS = {
    "global": {"postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName",
               "dagsterInstanceConfigMap"},
    "postgresql": {"postgresqlScheme", "image", "enabled", "postgresqlHost", "postgresqlUsername",
                   "postgresqlPassword", "postgresqlDatabase", "postgresqlParams", "service"},
    "dagsterWebserver": {"dbStatementTimeout", "dbPoolRecycle", "logLevel", "schedulerName", "volumeMounts",
                         "volumes", "pathPrefix", "replicaCount", "image", "nameOverride", "service", "workspace",
                         "env", "envConfigMaps", "envSecrets", "deploymentLabels", "labels", "nodeSelector",
                         "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
                         "readinessProbe", "livenessProbe", "startupProbe", "annotations", "enableReadOnly"},
    "dagster-user-deployments": {"enabled", "enableSubchart", "imagePullSecrets", "deployments"},
    "runLauncher": {"type", "config"},
    "dagsterDaemon": {"enabled", "image", "runCoordinator", "heartbeatTolerance", "env", "envConfigMaps",
                      "envSecrets", "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations",
                      "podSecurityContext", "securityContext", "resources", "checkDbReadyInitContainer",
                      "livenessProbe", "readinessProbe", "startupProbe", "annotations", "runMonitoring",
                      "runRetries", "sensors", "schedules", "backfills", "schedulerName", "logFormat",
                      "volumeMounts", "volumes", "initContainerResources", "extraContainers",
                      "extraPrependedInitContainers"},
    "concurrency": {"enabled", "pools", "runs"},
    "retention": {"enabled", "sensor", "schedule", "autoMaterialize"},
    "ingress": {"enabled", "apiVersion", "labels", "annotations", "flower", "dagsterWebserver",
                "readOnlyDagsterWebserver"},
}  # fmt: skip
CHART_USER_DEPLOYMENT_KEYS = {
    "name", "image", "port", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns", "env",
    "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
    "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe", "labels", "volumeMounts",
    "volumes", "schedulerName",
}  # fmt: skip
CHART_K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
    "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
    "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
CHART_RUN_RETRIES_KEYS = {"enabled", "maxRetries", "retryOnAssetOrOpFailure"}
CHART_IMAGE_KEYS = {"repository", "tag", "pullPolicy"}


# --------------------------------------------------------------------------- loading


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    return _yaml(HELM_VALUES)


@dataclass
class Dockerfile:
    """The facts of a Dockerfile these checks need."""

    path: Path
    instructions: list[tuple[str, str]]
    env: dict[str, str] = field(default_factory=dict)
    #: image path -> repository path, for every COPY from the build context
    copies: dict[PurePosixPath, Path] = field(default_factory=dict)
    user: str | None = None
    cmd: list[str] | None = None

    def has_file(self, image_path: str) -> bool:
        """Whether ``image_path`` is a file the image got by COPY."""
        target = PurePosixPath(image_path)
        for destination, source in self.copies.items():
            if target == destination and source.is_file():
                return True
            if source.is_dir() and destination in target.parents:
                return (source / target.relative_to(destination)).is_file()
        return False


def _instructions(path: Path) -> list[tuple[str, str]]:
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def parse_dockerfile(path: Path, context: Path) -> Dockerfile:
    dockerfile = Dockerfile(path, _instructions(path))
    workdir = PurePosixPath("/")
    for instruction, arguments in dockerfile.instructions:
        if instruction == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                dockerfile.env[key] = value
        elif instruction == "WORKDIR":
            workdir = workdir / arguments
        elif instruction == "COPY":
            parts = [p for p in shlex.split(arguments) if not p.startswith("--")]
            assert not any(p.startswith("--from") for p in shlex.split(arguments)), "multi-stage COPY not modelled"
            *sources, destination = parts
            target = workdir / destination
            into_directory = destination.endswith("/") or len(sources) > 1
            for source in sources:
                image_path = target / PurePosixPath(source).name if into_directory else target
                dockerfile.copies[image_path] = context / source
        elif instruction == "USER":
            dockerfile.user = arguments.split(":")[0]
        elif instruction == "CMD":
            dockerfile.cmd = json.loads(arguments)
    return dockerfile


def _dockerignore_allows(patterns: list[str], relative: str) -> bool:
    """Docker's rule: the last pattern matching a path (or one of its parents) decides."""
    allowed = True
    parts = PurePosixPath(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatch(c, glob) or fnmatch.fnmatch(c, glob.removeprefix("**/")) for c in candidates):
            allowed = negated
    return allowed


def _compose_images(compose: Mapping[str, Any]) -> dict[str, Dockerfile]:
    """Each compose service built from a Dockerfile of ours -> that Dockerfile."""
    images = {}
    for name, service in compose["services"].items():
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            images[name] = parse_dockerfile(context / service["build"]["dockerfile"], context)
    return images


def _locked_runtime_packages() -> set[str]:
    """Names of the packages `uv sync --frozen --no-dev` installs: the project's dependency closure
    in uv.lock (dependency groups left out, requested extras followed)."""
    packages = {p["name"]: p for p in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [("market-assets", None)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        package = packages[name]
        dependencies = package.get("optional-dependencies", {}).get(extra, []) if extra else package.get(
            "dependencies", [])
        for dependency in dependencies:
            todo.append((dependency["name"], None))
            todo += [(dependency["name"], e) for e in dependency.get("extra", [])]
    return {_normalise(name) for name, _ in seen}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _console_script_distribution(executable: str) -> str | None:
    for entry_point in importlib.metadata.entry_points(group="console_scripts", name=executable):
        return _normalise(entry_point.dist.name)
    return None


def _check_command(command: list[str], image: Dockerfile, where: str, runtime: set[str]) -> None:
    """The executable, its modules and the files it names all exist in ``image``."""
    executable = command[0]
    if executable == "python":
        assert command[1] == "-c", f"{where}: {command}"
        return
    distribution = _console_script_distribution(executable)
    assert distribution is not None, f"{where}: {executable!r} is no console script of the locked environment"
    assert distribution in runtime, f"{where}: {executable!r} comes from {distribution}, not installed by --no-dev"
    has_project = any(source.name == "market_assets" for source in image.copies.values())
    for flag, value in zip(command, command[1:], strict=False):
        if flag in ("-m", "--module-name", "-A", "--app"):
            assert importlib.util.find_spec(value) is not None, f"{where}: module {value!r} does not exist"
            top = value.split(".")[0]
            if top == "market_assets":
                assert has_project, f"{where}: {value!r} but {image.path.name} does not copy the package"
            else:
                assert _normalise(importlib.metadata.packages_distributions()[top][0]) in runtime, (where, value)
        if flag in ("-w", "--workspace", "-y", "--config-yaml"):
            assert image.has_file(value), f"{where}: {value!r} is not copied into {image.path.name}"


# --------------------------------------------------------------------------- every file


@pytest.mark.parametrize(
    "path", sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml")), ids=lambda p: p.name
)
def test_every_yaml_file_parses(path: Path) -> None:
    assert _yaml(path) is not None


# --------------------------------------------------------------------------- compose


def test_compose_images_are_built_here_or_pinned(compose) -> None:
    built: dict[str, tuple[str, str]] = {}
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = DEPLOY / service["build"]["context"]
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert (context / service["build"]["dockerfile"]).is_file(), f"{name}: no {service['build']['dockerfile']}"
            build = (service["build"]["context"], service["build"]["dockerfile"])
            # one image name, one Dockerfile
            assert built.setdefault(service["image"], build) == build, f"{name}: {service['image']} built twice"
        else:
            repository, _, tag = service["image"].rpartition(":")
            assert repository and tag and tag != "latest", f"{name}: pin the image {service['image']!r}"


def test_compose_volumes_secrets_and_dependencies_resolve(compose) -> None:
    services, volumes, secrets = compose["services"], compose.get("volumes", {}), compose.get("secrets", {})
    ignored = (DEPLOY / ".gitignore").read_text().split()
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} missing"
            else:
                assert source in volumes, f"{name}: volume {source!r} not declared"
        for secret in service.get("secrets", []):
            assert secret in secrets, f"{name}: secret {secret!r} not declared"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name}: depends on unknown service {dependency!r}"
    for name, secret in secrets.items():
        # secrets live in files that git ignores
        assert any(secret["file"].removeprefix("./").startswith(pattern) for pattern in ignored), name


def test_every_compose_variable_is_documented_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    example = {line.split("=", 1)[0] for line in (DEPLOY / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used - example == set()
    assert "DAGSTER_PG_PASSWORD" in used


class MissingVariable(ValueError):
    """A ``${VAR?error}`` / ``${VAR:?error}`` whose variable is unset (or empty)."""


_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", re.S)
_UNBRACED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with its variables replaced as compose does: ``${VAR}`` and ``$VAR``, ``${VAR-default}``
    and ``${VAR:-default}`` (the default may hold references itself), ``${VAR?error}`` and ``${VAR:?error}``
    (raise :class:`MissingVariable`), ``${VAR+other}`` and ``${VAR:+other}``, ``$$`` for ``$``; an unset
    plain ``${VAR}`` becomes empty (compose warns). With ``:`` an empty value counts as unset."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                assert j < len(text), f"unclosed ${{ in {text[i:i + 80]!r}"
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= text[j] == "}"
                j += 1
            match = _REFERENCE.fullmatch(text[i + 2 : j - 1])
            assert match, f"not a variable reference: {text[i:j]!r}"
            name, operator, argument = match.groups()
            value = variables.get(name)
            unset = value is None or (bool(operator) and operator.startswith(":") and value == "")
            if operator is None:
                out.append(value or "")
            elif operator.endswith("-"):
                out.append(interpolate(argument, variables) if unset else value)
            elif operator.endswith("?"):
                if unset:
                    raise MissingVariable(f"{name}: {interpolate(argument, variables)}")
                out.append(value)
            else:
                out.append("" if unset else interpolate(argument, variables))
            i = j
        elif text[i] == "$" and (match := _UNBRACED.match(text, i + 1)):
            out.append(variables.get(match.group(), ""))
            i = match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def env_file(text: str, filled_in: Mapping[str, str] | None = None) -> dict[str, str]:
    """A compose ``.env`` file's variables: ``KEY=VALUE`` lines, ``#`` comments; unquoted and double-quoted
    values are interpolated with the variables above them, single-quoted ones are literal. ``filled_in``
    sets the value of those keys, as a user editing the file would."""
    variables: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if filled_in and key in filled_in:
            value = filled_in[key]
        if len(value) >= 2 and value[0] == value[-1] == "'":
            variables[key] = value[1:-1]
        else:
            variables[key] = interpolate(value.strip('"'), variables)
    return variables


ENV_EXAMPLE = DEPLOY / ".env.example"
#: What a user puts into deploy/.env for the variables the example leaves empty.
FILLED_IN = {"DAGSTER_PG_PASSWORD": "pg-Secret_1", "RABBITMQ_DEFAULT_PASS": "mq-Secret_2",
             "MARKET_ASSETS_ALERT_WEBHOOK_URL": ""}
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN")


@pytest.fixture(scope="module")
def resolved_compose() -> dict[str, Any]:
    """deploy/docker-compose.yaml as compose reads it with deploy/.env copied from the example and filled in."""
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), env_file(ENV_EXAMPLE.read_text(), FILLED_IN)))


def test_compose_resolves_with_the_env_example_once_its_secrets_are_set() -> None:
    text = COMPOSE_FILE.read_text()
    example = env_file(ENV_EXAMPLE.read_text())
    required = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*):?\?", text))
    assert {"DAGSTER_PG_PASSWORD", "RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"} <= required
    assert required <= set(example)
    # the example leaves exactly the secrets empty (and the optional webhook); compose refuses to start so
    empty = {name for name, value in example.items() if value == ""}
    assert empty == set(FILLED_IN), empty
    assert {name for name in required if not example[name]} == {n for n in FILLED_IN if SECRET_NAME.search(n)}
    with pytest.raises(MissingVariable, match="set DAGSTER_PG_PASSWORD in deploy/.env"):
        interpolate(text, example)
    with pytest.raises(MissingVariable, match="set RABBITMQ_DEFAULT_PASS in deploy/.env"):
        interpolate(text, {**example, "DAGSTER_PG_PASSWORD": "x"})
    resolved = interpolate(text, env_file(ENV_EXAMPLE.read_text(), FILLED_IN))
    assert "${" not in resolved and yaml.safe_load(resolved)["services"]


def test_the_interpolation_is_composes() -> None:
    variables = {"A": "a", "EMPTY": ""}
    assert interpolate("${A}-$A-${UNSET}-$$A", variables) == "a-a--$A"
    assert interpolate("${UNSET-x${A}y}|${EMPTY-d}|${EMPTY:-d}|${A:-d}", variables) == "xay||d|a"
    assert interpolate("${A:+yes}|${EMPTY+set}|${EMPTY:+no}", variables) == "yes|set|"
    with pytest.raises(MissingVariable, match="EMPTY: give it"):
        interpolate("${EMPTY:?give it}", variables)
    assert interpolate("${EMPTY?given}", variables) == ""
    assert env_file("# c\nA=1\nB=${A}2\nC='${A}'\nD=\"${B}\"\n", {"A": "0"}) == {
        "A": "0", "B": "02", "C": "${A}", "D": "02"}


def test_compose_holds_no_password_only_references() -> None:
    text = COMPOSE_FILE.read_text()
    for name, service in _yaml(COMPOSE_FILE)["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(:?\?[^}]*)?\}", str(value)), f"{name}: {key}={value!r}"
    passwords = re.findall(r"://[^\s/@]*?:([^\s/@]*)@", text)  # the password of every URL with credentials
    assert len(passwords) >= 3  # MLflow's and Optuna's PostgreSQL URLs, the broker's default
    for password in passwords:
        assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*\}", password), f"a literal password in a URL: {password!r}"
    example = env_file(ENV_EXAMPLE.read_text())
    assert all(example[key] == "" for key in example if SECRET_NAME.search(key))


def test_the_celery_broker_is_the_rabbitmq_service(resolved_compose) -> None:
    services = resolved_compose["services"]
    users = [name for name, s in services.items() if BROKER_VARIABLE in s.get("environment", {})]
    assert sorted(users) == ["code", "worker"]  # the run workers (children of `code`) and the Celery workers
    for name in users:
        environment, depends_on = services[name]["environment"], services[name]["depends_on"]
        celery = load_celery_settings(environment)
        broker, backend = urlsplit(celery.broker), urlsplit(celery.backend)
        assert broker.scheme in AMQP_SCHEMES and broker.hostname == "rabbitmq" and broker.port == 5672
        assert broker.path == "//"  # the default vhost, "/"
        rabbitmq = services[broker.hostname]
        assert rabbitmq["image"].startswith("rabbitmq:") and "management" not in rabbitmq["image"]
        assert (broker.username, broker.password) == (
            rabbitmq["environment"]["RABBITMQ_DEFAULT_USER"], rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"])
        assert broker.password == FILLED_IN["RABBITMQ_DEFAULT_PASS"] and broker.username != "guest"
        assert backend.scheme == "redis" and backend.hostname == "redis" and backend.path == "/1"
        assert services[backend.hostname]["image"].startswith("redis:")
        for dependency in (broker.hostname, backend.hostname):
            assert depends_on.get(dependency) == {"condition": "service_healthy"}, (name, dependency)
            assert services[dependency]["healthcheck"]["test"], dependency
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    # the webserver and the daemon reach the broker only through `code`, which they wait for
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"] == {"code": {"condition": "service_healthy"}}


def test_the_compose_default_broker_is_the_env_examples_and_empty_means_no_celery() -> None:
    text = COMPOSE_FILE.read_text()
    filled = env_file(ENV_EXAMPLE.read_text(), FILLED_IN)
    unset = {k: v for k, v in filled.items() if k != BROKER_VARIABLE}

    def broker(variables: Mapping[str, str]) -> str:
        value = yaml.safe_load(interpolate(text, variables))["services"]["code"]["environment"][BROKER_VARIABLE]
        return value or ""  # `KEY:` with nothing after it: compose sets the variable empty

    assert broker(unset) == broker(filled) == "pyamqp://dagster:mq-Secret_2@rabbitmq:5672//"
    assert broker({**filled, BROKER_VARIABLE: ""}) == ""
    assert load_celery_settings({BROKER_VARIABLE: ""}).broker is None


def test_rabbitmq_keeps_its_data_and_a_long_step_is_not_redelivered(resolved_compose) -> None:
    rabbitmq = resolved_compose["services"]["rabbitmq"]
    mounts = dict(mount.split(":")[:2] for mount in rabbitmq["volumes"])  # source -> target
    assert mounts["rabbitmq"] == "/var/lib/rabbitmq" and "rabbitmq" in resolved_compose["volumes"]
    # the data directory is named after the node, the node after the host: a fixed host name finds it again
    assert rabbitmq["hostname"] == "rabbitmq"
    assert mounts["./rabbitmq.conf"].startswith("/etc/rabbitmq/conf.d/") and mounts["./rabbitmq.conf"].endswith(
        ".conf")
    settings = dict(line.split("=", 1) for line in (DEPLOY / "rabbitmq.conf").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    consumer_timeout_ms = int(settings["consumer_timeout "].strip())
    options = _yaml(DEPLOY / "celery.yaml")["execution"]["config"]["config_source"]
    visibility_timeout_s = options["broker_transport_options"]["visibility_timeout"]
    assert options["task_acks_late"] is True  # why the timeout matters: a step is acknowledged once it has run
    # RabbitMQ's default is 30 min; it must exceed the longest step, which Redis' timeout takes to be under it
    assert consumer_timeout_ms > 30 * 60 * 1000 and consumer_timeout_ms >= visibility_timeout_s * 1000


def _service_command(service: Mapping[str, Any], image: Dockerfile | None) -> list[str]:
    return service.get("command") or (image.cmd if image else []) or []


def test_dagster_processes_get_the_instance_and_batching_variables(compose) -> None:
    instance_variables = set(re.findall(r"\{env: (\w+)\}", (DEPLOY / "dagster.yaml").read_text()))
    assert instance_variables == {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD",
                                  "DAGSTER_PG_DB"}
    images = _compose_images(compose)
    dagster_services = []
    for name, service in compose["services"].items():
        command = _service_command(service, images.get(name))
        environment = service.get("environment", {})
        if command and command[0] in DAGSTER_EXECUTABLES:
            dagster_services.append(name)
            assert instance_variables <= set(environment), f"{name}: missing {instance_variables - set(environment)}"
            assert {k: environment.get(k) for k in BATCHING} == BATCHING, name
        unknown = {k for k in environment if k.startswith("MARKET_ASSETS_")} - SETTINGS_VARIABLES
        assert not unknown, f"{name}: variables no code reads: {unknown}"
    assert sorted(dagster_services) == ["code", "daemon", "webserver", "worker"]


def test_only_the_proxy_publishes_ports_and_on_loopback_by_default(compose) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert list(published) == ["proxy"]
    for port in published["proxy"]:
        assert port.startswith("${MARKET_ASSETS_UI_BIND:-127.0.0.1}:"), port
    assert "htpasswd" in compose["services"]["proxy"]["secrets"]
    nginx = (DEPLOY / "nginx.conf").read_text()
    listening = re.findall(r"^\s*listen (\d+);", nginx, re.M)
    assert nginx.count("auth_basic_user_file /run/secrets/htpasswd;") == len(listening) == 2
    assert sorted(p.split(":")[-1] for p in published["proxy"]) == sorted(listening)
    for upstream in re.findall(r"proxy_pass http://(\w+):(\d+);", nginx):
        assert upstream[0] in compose["services"], upstream


def test_the_webserver_listens_on_loopback_unless_configured(compose) -> None:
    webserver_image = parse_dockerfile(DEPLOY / "dagster.Dockerfile", REPO_ROOT)
    assert webserver_image.cmd[:3] == ["dagster-webserver", "-h", "127.0.0.1"]
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert "ports" not in compose["services"]["webserver"]


def test_the_workspace_points_at_the_code_server(compose) -> None:
    (server,) = [entry["grpc_server"] for entry in _yaml(DEPLOY / "workspace.docker.yaml")["load_from"]]
    code = compose["services"][server["host"]]
    command = _service_command(code, _compose_images(compose)[server["host"]])
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-p") + 1] == str(server["port"])
    assert server["location_name"] == "market_assets"


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize("name", ["user-code.Dockerfile", "dagster.Dockerfile"])
def test_images_install_the_lock_as_a_non_root_user(name: str) -> None:
    image = parse_dockerfile(DEPLOY / name, REPO_ROOT)
    assert image.env.get("UV_COMPILE_BYTECODE") == "1"
    runs = [arguments for instruction, arguments in image.instructions if instruction == "RUN"]
    assert any("uv sync --frozen --no-dev" in run for run in runs)
    assert image.user not in (None, "root", "0")
    ignore = [line.strip() for line in (DEPLOY / f"{name}.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    for source in image.copies.values():
        assert source.exists(), f"{name}: COPY source {source} missing"
        relative = source.relative_to(REPO_ROOT).as_posix()
        assert _dockerignore_allows(ignore, relative), f"{name}: {relative} is excluded by the .dockerignore"
    for excluded in (".venv", "var", ".git"):
        assert not _dockerignore_allows(ignore, excluded), f"{name}: {excluded} would be sent to the build"


def test_the_user_code_image_serves_the_code_location_over_grpc() -> None:
    image = parse_dockerfile(DEPLOY / "user-code.Dockerfile", REPO_ROOT)
    assert image.cmd == ["dagster", "code-server", "start", "-m", "market_assets.definitions", "-h", "0.0.0.0",
                         "-p", "4000"]
    assert image.has_file("/opt/dagster/home/dagster.yaml") and image.has_file("/opt/dagster/celery.yaml")


def test_every_command_runs_in_its_image(compose, helm) -> None:
    runtime = _locked_runtime_packages()
    images = _compose_images(compose)
    for image in {i.path: i for i in images.values()}.values():
        _check_command(image.cmd, image, f"{image.path.name} CMD", runtime)
    for name, service in compose["services"].items():
        if name in images:
            _check_command(_service_command(service, images[name]), images[name], f"compose {name}", runtime)
            test = service.get("healthcheck", {}).get("test", [])
            if test and test[0] == "CMD":
                _check_command(test[1:], images[name], f"compose {name} healthcheck", runtime)
    user_code = parse_dockerfile(DEPLOY / "user-code.Dockerfile", REPO_ROOT)
    for deployment in helm["dagster-user-deployments"]["deployments"]:
        command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"]),
                   *deployment["codeServerArgs"]]  # what the chart runs
        _check_command(command, user_code, f"helm {deployment['name']}", runtime)


def test_modules_named_in_deploy_exist() -> None:
    named = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            named |= set(re.findall(r"python -m ([\w.]+)", path.read_text()))
    assert "market_assets.reconcile" in named
    for module in named:
        assert importlib.util.find_spec(module) is not None, module


# --------------------------------------------------------------------------- dagster.yaml


PG_ENVIRONMENT = {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "dagster",
                  "DAGSTER_PG_PASSWORD": "dummy", "DAGSTER_PG_DB": "dagster"}


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    return tmp_path


def _storage_config(storage: Mapping[str, Any]) -> Any:
    """The ``storage: custom`` block processed by its class's own schema, as the instance does when it loads
    the class (Dagster's instance schema leaves a custom class's ``config`` unchecked)."""
    from dagster._config import resolve_to_config_type

    storage_class = getattr(importlib.import_module(storage["module"]), storage["class"])
    return process_config(resolve_to_config_type(storage_class.config_type()), storage["config"])


def test_the_production_instance_config_passes_dagsters_schema(instance_dir, monkeypatch) -> None:
    from dagster_postgres.storage import DagsterPostgresStorage

    for name, value in PG_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    config, custom_class = dagster_instance_config(str(instance_dir))
    assert custom_class is None
    resolved = process_config(Shape(dagster_instance_config_schema()), config)
    assert resolved.success, resolved.errors
    value = resolved.value
    storage = value["storage"]["custom"]  # dagster-postgres' storage with market_assets' event log
    assert (storage["module"], storage["class"]) == ("market_assets.instance_storage", "PostgresStorage")
    assert issubclass(getattr(importlib.import_module(storage["module"]), storage["class"]), DagsterPostgresStorage)
    storage_config = _storage_config(storage)
    assert storage_config.success, storage_config.errors
    database = storage_config.value["postgres_db"]
    assert database["scheme"] == "postgresql+psycopg2" and database["hostname"] == "db.internal"
    assert database["port"] == 5432 and database["password"] == "dummy"
    assert value["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert value["concurrency"]["pools"]["default_limit"] == 1
    assert value["run_monitoring"]["enabled"] is True
    assert value["run_retries"] == {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}


def test_the_schema_check_is_real_a_misspelt_key_is_refused(instance_dir) -> None:
    text = (instance_dir / "dagster.yaml").read_text()
    (instance_dir / "dagster.yaml").write_text(text.replace("retry_on_asset_or_op_failure", "retry_on_op_failure"))
    with pytest.raises(DagsterInvalidConfigError, match="retry_on_op_failure"):
        dagster_instance_config(str(instance_dir))


def test_an_unset_instance_variable_is_named(instance_dir, monkeypatch) -> None:
    for name, value in PG_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_HOST")
    config, _ = dagster_instance_config(str(instance_dir))
    resolved = process_config(Shape(dagster_instance_config_schema()), config)
    assert resolved.success  # the custom storage's config is its class's to check
    storage_config = _storage_config(resolved.value["storage"]["custom"])
    assert not storage_config.success
    assert "DAGSTER_PG_HOST" in " ".join(error.message for error in storage_config.errors)


@pytest.mark.postgres
def test_the_production_instance_starts_on_postgresql(instance_dir, monkeypatch) -> None:
    with services.scratch_postgres_database("market_assets_deploy_test") as database:
        for name, value in {"DAGSTER_PG_HOST": services.POSTGRES_HOST, "DAGSTER_PG_PORT": str(services.POSTGRES_PORT),
                            "DAGSTER_PG_USER": services.POSTGRES_USER, "DAGSTER_PG_PASSWORD": "",
                            "DAGSTER_PG_DB": database}.items():
            monkeypatch.setenv(name, value)
        with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            # dagster-postgres' event log, its planned asset-check rows written by market_assets.instance_storage
            assert type(instance.event_log_storage).__name__ == "CheckPlanningPostgresEventLogStorage"
            assert "PostgresEventLogStorage" in [c.__name__ for c in type(instance.event_log_storage).__mro__]
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
            assert instance.run_retries_retry_on_asset_or_op_failure is False
            assert instance.run_monitoring_enabled
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
            assert instance.get_runs() == []
            # the pool the code uses, with the limit the instance gives an unconfigured pool
            instance.event_log_storage.set_concurrency_slots("training", 1)
            assert instance.event_log_storage.get_concurrency_info("training").slot_count == 1


# --------------------------------------------------------------------------- Helm


def _unknown(section: Mapping[str, Any], allowed: set[str]) -> set[str]:
    return set(section) - allowed


def test_helm_values_use_only_the_official_charts_keys(helm) -> None:
    assert _unknown(helm, CHART_TOP_LEVEL_KEYS) == set()
    for section, allowed in CHART_SECTION_KEYS.items():
        assert _unknown(helm.get(section, {}), allowed) == set(), section
    for deployment in helm["dagster-user-deployments"]["deployments"]:
        assert _unknown(deployment, CHART_USER_DEPLOYMENT_KEYS) == set()
        assert _unknown(deployment["image"], CHART_IMAGE_KEYS) == set()
    assert _unknown(helm["runLauncher"]["config"]["k8sRunLauncher"], CHART_K8S_RUN_LAUNCHER_KEYS) == set()
    assert _unknown(helm["dagsterDaemon"]["runRetries"], CHART_RUN_RETRIES_KEYS) == set()
    for section in ("dagsterWebserver", "dagsterDaemon"):
        assert _unknown(helm[section]["image"], CHART_IMAGE_KEYS) == set()


def test_helm_values_describe_the_production_deployment(helm) -> None:
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "market_assets.definitions"]
    postgresql = helm["postgresql"]
    assert postgresql["enabled"] is False and postgresql["postgresqlHost"]
    assert postgresql["postgresqlScheme"] == "postgresql+psycopg2"
    assert helm["generatePostgresqlPasswordSecret"] is False and helm["global"]["postgresqlSecretName"]
    daemon = helm["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runRetries"]["retryOnAssetOrOpFailure"] is False and daemon["runMonitoring"]["enabled"]
    production = _yaml(DEPLOY / "dagster.yaml")
    assert helm["concurrency"]["pools"]["defaultLimit"] == production["concurrency"]["pools"]["default_limit"]
    assert helm["concurrency"]["runs"]["maxConcurrentRuns"] == production["concurrency"]["runs"]["max_concurrent_runs"]
    assert helm["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    assert helm["ingress"]["annotations"]["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    for section in (helm["dagsterWebserver"], daemon):
        assert {k: section["env"].get(k) for k in BATCHING} == BATCHING
    deployment_env = {e["name"]: e.get("value") for e in deployment["env"]}
    assert {k: deployment_env.get(k) for k in BATCHING} == BATCHING
    assert deployment_env["MARKET_ASSETS_ENV"] == "production"
    assert set(deployment_env) - SETTINGS_VARIABLES - set(BATCHING) == set()


def _env_entries(values: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(values, Mapping):
        if set(values) >= {"name"} and ("value" in values or "valueFrom" in values):
            yield values
        for value in values.values():
            yield from _env_entries(value)
    elif isinstance(values, list):
        for value in values:
            yield from _env_entries(value)


def test_helm_values_hold_no_secret_only_references(helm) -> None:
    secret_like = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|WEBHOOK|MLFLOW_URI|OPTUNA_URL")
    for entry in _env_entries(helm):
        if secret_like.search(entry["name"]) and "valueFrom" not in entry:
            pytest.fail(f"{entry['name']} is set as a literal: take it from a Secret (valueFrom / envSecrets)")
    assert helm["postgresql"]["postgresqlPassword"] == ""
    assert helm["dagster-user-deployments"]["deployments"][0]["envSecrets"] == [{"name": "market-assets-env"}]


# --------------------------------------------------------------------------- README


def test_the_readme_deployment_section_names_every_deploy_file() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Deployment\n", 1)[1].split("\n## ", 1)[0]
    ignored = {"deploy/.gitignore"}
    for path in DEPLOY.rglob("*"):
        if not path.is_file() or "secrets" in path.parts or path.name == ".env":
            continue
        relative = path.relative_to(REPO_ROOT).as_posix()
        if relative in ignored:
            continue
        by_pattern = path.name.endswith(".Dockerfile.dockerignore") and "*.Dockerfile.dockerignore" in section
        mentioned = relative in section or by_pattern
        assert mentioned, f"README's Deployment section does not mention {relative}"
    for service in _yaml(COMPOSE_FILE)["services"]:
        assert f"`{service}`" in section, f"README's Deployment section does not describe the service {service}"
    assert "make audit" in section and "not a CI step" in section
