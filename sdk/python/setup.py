"""Generates the gRPC stubs from proto/modelbox/modelbox.proto while building, so they cannot drift from the proto."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from codegen import generate  # noqa: E402


class BuildWithStubs(build_py):
    """build_py that writes modelbox_pb2.py and modelbox_pb2_grpc.py into the built package."""

    def run(self) -> None:
        super().run()
        generate(os.path.join(self.build_lib, "modelbox"))


setup(cmdclass={"build_py": BuildWithStubs})
