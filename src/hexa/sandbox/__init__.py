"""Sandboxes for the code people run: one seam (`Sandbox`), one implementation per kind."""

from hexa.sandbox.bwrap import BwrapSandbox, BwrapUnavailableError, bwrap_works, home_root
from hexa.sandbox.choice import SandboxUnavailableError, build_sandbox
from hexa.sandbox.environment import sandbox_environment
from hexa.sandbox.jail import Bind, Identity, Jail, Launch, PlainSandbox, Sandbox, UserIds
from hexa.sandbox.limits import Confinement, LimitEnforcer, ResourceLimits

__all__ = [
    "Bind",
    "BwrapSandbox",
    "BwrapUnavailableError",
    "Confinement",
    "Identity",
    "Jail",
    "Launch",
    "LimitEnforcer",
    "PlainSandbox",
    "ResourceLimits",
    "Sandbox",
    "SandboxUnavailableError",
    "UserIds",
    "build_sandbox",
    "bwrap_works",
    "home_root",
    "sandbox_environment",
]
