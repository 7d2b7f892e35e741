"""Helpers (free of pytest) that start real servers for the tests.

- ``ServerTarget``: how to reach a server under test (URL, credentials, dialect, ...).
- ``VcsimServer``: govmomi's vcsim, built by scripts/build-vcsim.sh (/rest dialect only).
- ``SimulatorServer``: the project's embedded service (cl_desktop.simulator), in-process.
"""

from .simulator import SimulatorServer, simulator_target, simulator_unavailable_reason
from .target import Dialect, Kind, ServerTarget
from .vcsim import VcsimError, VcsimServer, vcsim_binary, vcsim_dir, vcsim_skip_reason

__all__ = [
    "Dialect",
    "Kind",
    "ServerTarget",
    "SimulatorServer",
    "VcsimError",
    "VcsimServer",
    "simulator_target",
    "simulator_unavailable_reason",
    "vcsim_binary",
    "vcsim_dir",
    "vcsim_skip_reason",
]
