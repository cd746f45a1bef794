#!/usr/bin/env bash
# Runs the whole ModelBox test suite on a fresh Debian machine with the .NET SDK (as root, as CI does).
# Installs what the tests need when it is missing, runs `dotnet test` over the solution, then counts the TRX
# results and ends with exactly one line: "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero when a test failed, when no test ran, or when `dotnet test` itself failed (build error, crash).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

results_dir="${MODELBOX_TEST_RESULTS:-$root/artifacts/test-results}"

# The Python interop test uses Debian's interpreter: python3-grpcio installs into its dist-packages, which a
# pyenv or venv python3 earlier on PATH does not see.
debian_python=/usr/bin/python3

python_client_ready() {
    [[ -x "$debian_python" ]] &&
        "$debian_python" -c 'import grpc, google.protobuf' >/dev/null 2>&1 &&
        command -v protoc >/dev/null 2>&1 &&
        command -v grpc_python_plugin >/dev/null 2>&1 &&
        [[ -f /usr/include/google/protobuf/struct.proto ]]
}

install_test_dependencies() {
    local packages=()
    if ! python_client_ready; then
        # libprotobuf-dev holds the well-known .proto files (struct, timestamp) that protoc imports.
        packages+=(python3 python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc libprotobuf-dev)
    fi
    if ((${#packages[@]} > 0)); then
        echo "==> installing test dependencies: ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
}

install_test_dependencies
export MODELBOX_PYTHON="$debian_python"

rm -rf "$results_dir"
mkdir -p "$results_dir"

echo "==> dotnet test ModelBox.slnx -c Release"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
set +e
dotnet test ModelBox.slnx -c Release \
    --logger "trx;LogFilePrefix=r" \
    --results-directory "$results_dir"
dotnet_status=$?
set -e

"$debian_python" - "$results_dir" "$dotnet_status" <<'PY'
import glob
import os
import sys
import xml.etree.ElementTree as ET

results_dir, dotnet_status = sys.argv[1], int(sys.argv[2])
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def assembly_name(test: ET.Element) -> str:
    # TestMethod's codeBase keeps the assembly's case; UnitTest's storage is lowercased.
    method = test.find("t:TestMethod", ns)
    path = method.get("codeBase", "") if method is not None else test.get("storage", "")
    return os.path.splitext(os.path.basename(path))[0]


# project -> [passed, failed, skipped]
projects: dict[str, list[int]] = {}
failures: list[str] = []
for path in sorted(glob.glob(os.path.join(results_dir, "**", "*.trx"), recursive=True)):
    run = ET.parse(path).getroot()
    storage = {test.get("id"): assembly_name(test) for test in run.iterfind("t:TestDefinitions/t:UnitTest", ns)}
    for result in run.iterfind("t:Results/t:UnitTestResult", ns):
        project = storage.get(result.get("testId"), "") or os.path.basename(path)
        counts = projects.setdefault(project, [0, 0, 0])
        outcome = result.get("outcome", "")
        if outcome == "Passed":
            counts[0] += 1
        elif outcome in ("NotExecuted", "Inconclusive"):
            counts[2] += 1
        else:
            counts[1] += 1
            failures.append(f"{project}: {result.get('testName')} ({outcome})")
    # A fixture that fails on cleanup (for example, the server logged an error) is a run-level error, not a test
    # result; count each as a failure so the summary line agrees with the exit code.
    for info in run.iterfind("t:ResultSummary/t:RunInfos/t:RunInfo", ns):
        if info.get("outcome") == "Error":
            text = (info.findtext("t:Text", default="", namespaces=ns) or "").strip().splitlines()
            project = os.path.basename(path)
            projects.setdefault(project, [0, 0, 0])[1] += 1
            failures.append(f"{project}: run error: {text[0] if text else 'unknown'}")

if projects:
    width = max(len("project"), *(len(p) for p in projects))
    print()
    print(f"{'project':<{width}}  {'passed':>6}  {'failed':>6}  {'skipped':>7}")
    for project, (p, f, s) in sorted(projects.items()):
        print(f"{project:<{width}}  {p:>6}  {f:>6}  {s:>7}")
if failures:
    print()
    print("failed tests:")
    for failure in failures:
        print(f"  {failure}")

passed = sum(c[0] for c in projects.values())
failed = sum(c[1] for c in projects.values())
skipped = sum(c[2] for c in projects.values())
total = passed + failed + skipped

print()
if dotnet_status != 0:
    print(f"dotnet test exited with status {dotnet_status}")
if total == 0:
    print(f"no test results found in {results_dir}")
sys.stdout.flush()

summary = f"{passed} passed, {failed} failed"
if skipped > 0:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed > 0 or total == 0 or dotnet_status != 0 else 0)
PY
