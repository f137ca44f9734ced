"""The service: prints what it runs on."""

import importlib.metadata as metadata
import platform
from pathlib import Path

import fake_nvidia_cuda_cu12
import fake_torch
import lightpkg_a

if __name__ == "__main__":
    system = Path("/opt/sys/libfoo").read_text().strip()
    print(f"python {platform.python_version()}, system {system}")
    for module in (fake_torch, fake_nvidia_cuda_cu12, lightpkg_a):
        print(f"{module.__name__} {module.__version__}")
    print(f"{len(list(metadata.distributions()))} distributions installed")
