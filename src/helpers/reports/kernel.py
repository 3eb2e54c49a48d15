"""A kernel manager for batch runs: local IPC sockets instead of TCP, quiet shutdown.

ipykernel warns (on stderr, for every report) that TCP traffic is unencrypted; a Unix socket
in the temp folder is private to the machine and needs no ports. Windows has no IPC transport,
so there the default TCP manager is used.

jupyter_client interrupts (SIGINT) a kernel before asking it to shut down; when the kernel is
idle -- always, once papermill has run every cell -- ipykernel sometimes logs "KeyboardInterrupt
caught in kernel" on stderr. A shutdown request alone is enough (a kernel that does not answer
it is still terminated, then killed, after ``shutdown_wait_time``).
"""

from __future__ import annotations

import os
import tempfile
import uuid

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class QuietKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` that does not interrupt the kernel before shutting it down."""

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # see the module docstring
            return
        await super()._async_interrupt_kernel()


class IPCKernelManager(QuietKernelManager):
    """... and talks to the kernel over Unix sockets at a fresh, short path."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    def _ip_default(self) -> str:  # traitlets' dynamic default for ``ip``
        # Unix socket paths are limited to ~100 characters: keep it short.
        return os.path.join(tempfile.gettempdir(), f"helpers-kernel-{uuid.uuid4().hex[:12]}")


def kernel_manager_class() -> type:
    """The manager class to hand to papermill/nbclient."""
    return IPCKernelManager if os.name == "posix" else QuietKernelManager
