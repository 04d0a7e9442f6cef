"""`pip install .`: build libvkcls.so with CMake and put it inside the vkcls package.

The CMake build folder is build/python (VKCLS_CMAKE_BUILD_DIR to change it). A new folder is
configured for the library alone (Release, no tests, no benchmarks); an existing one is reused
with its own settings, so only what changed is rebuilt. Only the target vkcls_capi is built.
The project version in pyproject.toml must be CMakeLists.txt's (tests/python checks it).
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        build = Path(os.environ.get("VKCLS_CMAKE_BUILD_DIR", ROOT / "build" / "python"))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        configure = ["cmake", "-S", str(ROOT), "-B", str(build)]
        if not (build / "CMakeCache.txt").exists():  # a new folder: the library alone
            configure += ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DVKCLS_BUILD_TESTS=OFF",
                          "-DVKCLS_BUILD_BENCH=OFF"]
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", str(build), "--target", "vkcls_capi",
                               "-j", jobs])
        libs = sorted((build / "capi").glob("libvkcls.so.*.*.*"))
        if not libs:
            raise RuntimeError(f"no libvkcls.so.X.Y.Z under {build / 'capi'}")
        dest = Path(self.build_lib) / "vkcls"
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob("libvkcls.so*"):
            old.unlink()
        shutil.copy2(libs[-1], dest / "libvkcls.so")


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # a platform wheel: it carries libvkcls.so
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
