"""Generates modelbox_pb2.py (and .pyi) and modelbox_pb2_grpc.py from the repository's proto with Debian's protoc and
grpc_python_plugin (packages protobuf-compiler, protobuf-compiler-grpc and libprotobuf-dev).

Run by setup.py at build time, and by the tests (which build the package the way users install it).
`python3 sdk/python/codegen.py OUTDIR` writes the stubs into OUTDIR by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.normpath(os.path.join(HERE, "..", "..", "proto", "modelbox", "modelbox.proto"))
_HTTP_OPTION = re.compile(r"\s*\{\s*option \(google\.api\.http\) = \{.*?\};\s*\}", re.S)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} was not found on PATH; install protobuf-compiler protobuf-compiler-grpc libprotobuf-dev")
    return path


def client_contract(text: str) -> str:
    """The proto without its REST bindings: google.api.http options do not change the gRPC wire, and a client
    generated without them needs no googleapis protos."""
    text = text.replace('import "google/api/annotations.proto";', "")
    text = _HTTP_OPTION.sub(";", text)
    if "option (google.api" in text:
        raise RuntimeError("an unexpected google.api option is left in the proto")
    return text


def generate(out_dir: str, proto: str | None = None) -> list[str]:
    """Writes the stubs for `proto` (default: the repository's proto, or $MODELBOX_PROTO) into `out_dir`."""
    proto = proto or os.environ.get("MODELBOX_PROTO") or DEFAULT_PROTO
    if not os.path.isfile(proto):
        raise RuntimeError(f"the ModelBox proto was not found at {proto}; set MODELBOX_PROTO")
    protoc, plugin = _tool("protoc"), _tool("grpc_python_plugin")
    with open(proto, encoding="utf-8") as f:
        contract = client_contract(f.read())
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelbox-proto-") as tmp:
        os.makedirs(os.path.join(tmp, "proto", "modelbox"))
        with open(os.path.join(tmp, "proto", "modelbox", "modelbox.proto"), "w", encoding="utf-8") as f:
            f.write(contract)
        gen = os.path.join(tmp, "gen")
        os.makedirs(gen)
        include = [arg for d in ("/usr/include", "/usr/local/include") if os.path.isfile(os.path.join(d, "google", "protobuf", "struct.proto")) for arg in ("-I", d)]
        subprocess.run(
            [protoc, f"--python_out={gen}", f"--pyi_out={gen}", f"--grpc_python_out={gen}", f"--plugin=protoc-gen-grpc_python={plugin}",
             "-I", os.path.join(tmp, "proto"), *include, "modelbox/modelbox.proto"],
            check=True,
        )
        written = []
        for name in ("modelbox_pb2.py", "modelbox_pb2.pyi", "modelbox_pb2_grpc.py"):
            target = os.path.join(out_dir, name)
            shutil.copyfile(os.path.join(gen, "modelbox", name), target)
            written.append(target)
        return written


if __name__ == "__main__":
    for path in generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "src", "modelbox")):
        print(path)
