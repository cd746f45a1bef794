"""The installed stubs are generated from the repository's proto at build time, so they cannot drift from it."""

import filecmp
import os
import sys

from conftest import INSTALL_DIR, SDK

sys.path.insert(0, SDK)
import codegen  # noqa: E402


def test_installed_stubs_equal_stubs_generated_from_the_proto(tmp_path):
    generated = codegen.generate(str(tmp_path))
    for path in generated:
        installed = os.path.join(INSTALL_DIR, "modelbox", os.path.basename(path))
        assert filecmp.cmp(path, installed, shallow=False), f"{installed} differs from the proto's stubs"


def test_every_rpc_of_the_proto_is_in_the_stub():
    import modelbox

    with open(codegen.DEFAULT_PROTO, encoding="utf-8") as f:
        text = f.read()
    rpcs = {line.split()[1].split("(")[0] for line in text.splitlines() if line.strip().startswith("rpc ")}
    service = modelbox.pb.DESCRIPTOR.services_by_name["ModelStore"]
    stubbed = {m.name for m in service.methods} | {m.name for m in modelbox.pb.DESCRIPTOR.services_by_name["ModelBoxAdmin"].methods}
    assert rpcs and rpcs <= stubbed


def test_runtime_dependencies_are_grpcio_and_protobuf_only():
    import tomllib

    with open(os.path.join(SDK, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert sorted(d.split(">")[0] for d in project["dependencies"]) == ["grpcio", "protobuf"]
