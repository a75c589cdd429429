"""The one typed configuration object, read from `HEXA_*` environment variables."""

from __future__ import annotations

import secrets
import socket
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Hexa can be told; passed explicitly, never read from a global."""

    model_config = SettingsConfigDict(env_prefix="HEXA_", extra="ignore")

    data_dir: Path = Field(
        Path(".hexa"), description="Where Hexa keeps its database, notebooks, logs and pid files."
    )
    host: str = Field("127.0.0.1", description="Address `hexa serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `hexa serve` listens on.")
    token: SecretStr | None = Field(
        None,
        description="Token of the default user; random (and printed at start) when unset.",
    )
    model: str = Field(
        "builtin",
        description="Agent model: `builtin`, `openai:<model>`, `anthropic:<model>`, or "
        "`openai-compatible:<model>` with `HEXA_OPENAI_BASE_URL`.",
    )
    openai_api_key: SecretStr | None = Field(None, description="Key for OpenAI models.")
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server (Ollama, vLLM)."
    )
    anthropic_api_key: SecretStr | None = Field(None, description="Key for Anthropic models.")
    model_timeout: float = Field(120.0, gt=0, description="Seconds one model request may take.")
    model_images: bool | None = Field(
        None,
        description="Hand cell images (charts) to the model as images; unset: yes for "
        "`openai:` and `anthropic:` models, no for `openai-compatible:` ones.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; SQLite in the data dir when unset."
    )
    max_notebooks_per_user: int = Field(5, ge=1, description="Open notebooks one user may have.")
    max_processes: int = Field(10, ge=1, description="marimo processes running at once, in all.")
    idle_timeout: float = Field(
        7200.0, gt=0, description="Seconds without activity before a notebook is stopped."
    )
    start_timeout: float = Field(
        60.0, gt=0, description="Seconds a notebook may take to start and open its session."
    )
    max_restarts: int = Field(
        3, ge=0, description="Restarts of a crashed notebook before it is marked failed."
    )
    spare_notebooks: bool = Field(
        True,
        description="Without server_per_person: keep a warm spare marimo per person with a "
        "notebook open (in their sandbox, counted against max_processes), so their next "
        "notebook opens in about half the time. Not with HEXA_SANDBOX=kubernetes.",
    )
    server_per_person: bool | None = Field(
        None,
        description="Run one marimo per person, serving their folder, with each of their "
        "notebooks there a session in it (a kernel each, with one notebook's limits): a "
        "second notebook then costs its kernel, not a second server, and opens as fast as "
        "a spare. A crash of the server itself restarts all of the person's notebooks. "
        "Unset: on with HEXA_SANDBOX=bwrap, none or auto; off (a server per notebook) "
        "with docker or kubernetes, where it is not available.",
    )
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Largest request body.")
    max_code_bytes: int = Field(256 * 1024, gt=0, description="Largest code of one cell.")
    approval_ttl: float = Field(3600.0, gt=0, description="Seconds an approval stays valid.")
    run_wait: float = Field(
        30.0, gt=0, description="Seconds a run tool waits before reporting 'still running'."
    )
    sandbox: Literal["auto", "bwrap", "docker", "kubernetes", "none"] = Field(
        "auto",
        description="Where notebook code runs: `bwrap` (bubblewrap: a private view of the "
        "machine, a uid per user when Hexa is root), `docker` (a container of "
        "`notebook_image` per notebook), `kubernetes` (a pod of `notebook_image` per "
        "notebook), `none` (a plain process as Hexa's own user), or `auto` (bwrap where "
        "it works, else none with a warning).",
    )
    kubernetes_namespace: str | None = Field(
        None,
        description="With HEXA_SANDBOX=kubernetes: the namespace of notebook pods (unset: "
        "the kubeconfig's, or Hexa's own pod's namespace).",
    )
    kubernetes_notebooks_claim: str = Field(
        "hexa-notebooks",
        description="With HEXA_SANDBOX=kubernetes: the ReadWriteMany claim that holds users' "
        "files, mounted by Hexa at <data dir>/notebooks and by each pod at its user's "
        "folders only.",
    )
    kubernetes_group: int = Field(
        10001,
        ge=1,
        description="With HEXA_SANDBOX=kubernetes: Hexa's group, which notebook pods run in "
        "(each as its user's own uid) so that both may write the user's files.",
    )
    notebook_image: str = Field(
        "hexa-notebook:latest",
        description="With HEXA_SANDBOX=docker: the image notebooks run in (marimo and the "
        "kernel's packages, `python` on its PATH; nothing of Hexa's).",
    )
    docker_data_dir: Path | None = Field(
        None,
        description="With HEXA_SANDBOX=docker, when Hexa itself runs in a container: where "
        "its data dir is on the Docker host (notebook containers mount users' folders from "
        "the host's paths). Unset: the same path as HEXA_DATA_DIR.",
    )
    allow_unsandboxed_users: bool = Field(
        False,
        description="Let more than one user run notebooks with no sandbox (every user's "
        "code can then read every other user's files and Hexa's database).",
    )
    notebook_memory_mb: int = Field(
        2048, ge=64, description="Memory one notebook (server, kernel, children) may use."
    )
    notebook_max_processes: int = Field(
        512, ge=16, description="Processes and threads one notebook may have at once."
    )
    notebook_cpus: float = Field(
        1.0, ge=0, description="CPUs one notebook may use (0: no cap; cgroups only)."
    )
    sandbox_uid_base: int = Field(
        200000,
        ge=1000,
        description="When Hexa runs as root, user N's notebooks run as uid base + N.",
    )
    python: Path = Field(
        Path(sys.executable), description="Python interpreter that runs `marimo edit`."
    )
    replica_id: str | None = Field(
        None,
        max_length=128,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="This replica's name among the replicas sharing a database; stable "
        "across its restarts. Unset: `<hostname>-<port>`.",
    )
    heartbeat_interval: float = Field(
        2.0, gt=0, description="Seconds between this replica's heartbeats in the database."
    )
    replica_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds without a heartbeat after which a replica counts as gone and "
        "its notebooks may be started by another.",
    )

    @model_validator(mode="after")
    def _one_server_per_person_needs_local_sandboxes(self) -> Settings:
        # A person's server runs their notebooks' kernels as its children: bwrap or none.
        # In a container or pod per notebook it would need one per person instead.
        if self.server_per_person and self.sandbox in ("docker", "kubernetes"):
            raise ValueError(
                f"server_per_person is not available with sandbox={self.sandbox} "
                "(only with bwrap or none)"
            )
        return self

    @property
    def shares_servers(self) -> bool:
        """server_per_person, resolved: by default wherever it is available."""
        if self.server_per_person is None:
            return self.sandbox not in ("docker", "kubernetes")
        return self.server_per_person

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def notebooks_dir(self) -> Path:
        return self.resolved_data_dir / "notebooks"

    @property
    def replica(self) -> str:
        return self.replica_id or f"{socket.gethostname()}-{self.port}"

    @property
    def run_dir(self) -> Path:
        """This replica's pid files: a replica reaps only what its own last run left."""
        return self.resolved_data_dir / "run" / self.replica

    @property
    def logs_dir(self) -> Path:
        return self.resolved_data_dir / "logs"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'hexa.db'}"

    def ensure_token(self) -> str:
        """The default user's token, made up once when none was configured."""
        if self.token is None:
            self.token = SecretStr(secrets.token_urlsafe(24))
        return self.token.get_secret_value()
