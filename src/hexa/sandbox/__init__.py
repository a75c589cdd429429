"""Sandboxes for the code people run: one seam (`Sandbox`), one implementation per kind."""

from hexa.sandbox.bwrap import BwrapSandbox, BwrapUnavailableError, bwrap_works
from hexa.sandbox.choice import SandboxUnavailableError, build_sandbox
from hexa.sandbox.environment import sandbox_environment
from hexa.sandbox.jail import Identity, Jail, Launch, PlainSandbox, Sandbox, UserIds
from hexa.sandbox.limits import Confinement, LimitEnforcer, ResourceLimits

__all__ = [
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
    "sandbox_environment",
]
