#!/usr/bin/env bash
# Runs the whole ModelBox test suite on a fresh Debian machine with the .NET SDK (as root, as CI does).
# Installs what the tests need when it is missing, runs `dotnet test` over the solution, then counts the TRX
# results and ends with exactly one line: "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero when a test failed, when no test ran, or when `dotnet test` itself failed (build error, crash).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

# `./test.sh --with-servers CMD ARGS...` starts the same servers and runs CMD with the test variables set instead of
# the tests (for the benchmarks that need PostgreSQL, MariaDB or S3), then stops the servers.
with_servers=()
if [[ "${1:-}" == "--with-servers" ]]; then
    shift
    (($# > 0)) || { echo "usage: ./test.sh --with-servers CMD [ARGS...]" >&2; exit 2; }
    with_servers=("$@")
fi

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
    # The Python SDK's tests (sdk/python/tests) run under Debian's pytest; its PyTorch helper is tested with Debian's torch.
    "$debian_python" -c 'import pytest' >/dev/null 2>&1 || packages+=(python3-pytest)
    "$debian_python" -c 'import torch' >/dev/null 2>&1 || packages+=(python3-torch)
    # The web UI's tests (test/ModelBox.WebUi.Tests) drive Debian's Chromium through Playwright.
    [[ -x /usr/bin/chromium ]] || packages+=(chromium)
    # The container image test (test/ModelBox.EndToEnd.Tests/Packaging) runs the image with podman; runc, because crun
    # refuses the hybrid cgroups of a machine that is itself a container. The documentation test runs the docs' curl lines.
    command -v podman >/dev/null 2>&1 || packages+=(podman)
    command -v runc >/dev/null 2>&1 || packages+=(runc)
    command -v curl >/dev/null 2>&1 || packages+=(curl)
    if ((${#packages[@]} > 0)); then
        echo "==> installing test dependencies: ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
}

install_test_dependencies
export MODELBOX_PYTHON="$debian_python"

# Everything started below is stopped when this script exits, last started first.
cleanups=()
run_cleanups() {
    local i
    for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
        eval "${cleanups[i]}" || true
    done
}
trap run_cleanups EXIT

free_port() {
    "$debian_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# PostgreSQL and MariaDB run as throw-away servers on loopback, each with its own data folder under one temporary
# folder, on free ports, so a re-run or a machine that already runs a database is never disturbed. A server that
# does not start fails the run: the tests that need it must not be skipped.
postgres_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]] && echo "$dir"
}
mariadb_server_binary() {
    command -v mariadbd 2>/dev/null || { [[ -x /usr/sbin/mariadbd ]] && echo /usr/sbin/mariadbd; } ||
        command -v mysqld 2>/dev/null || { [[ -x /usr/sbin/mysqld ]] && echo /usr/sbin/mysqld; }
}
database_packages=()
postgres_bindir >/dev/null || database_packages+=(postgresql)
mariadb_server_binary >/dev/null || database_packages+=(mariadb-server)
if ((${#database_packages[@]} > 0)); then
    echo "==> installing test dependencies: ${database_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The packages' own services may not start in a container (no init); these tests start their own servers anyway.
    apt-get install -y -qq "${database_packages[@]}" >/dev/null
fi

fail_server() {
    echo "error: $1" >&2
    [[ -f "${2:-}" ]] && tail -n 40 "$2" >&2
    exit 1
}

db_root="$(mktemp -d /tmp/modelbox-test-db.XXXXXX)"
chmod 755 "$db_root"
cleanups+=("rm -rf '$db_root'")
db_password="modelbox-test-$RANDOM$RANDOM"

# PostgreSQL: initdb refuses to run as root, so the cluster belongs to the `postgres` user (the package creates it).
pg_bin="$(postgres_bindir)" || fail_server "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
pg_data="$db_root/postgres"
pg_port="$(free_port)"
mkdir -p "$pg_data"
printf '%s\n' "$db_password" >"$db_root/pg-password"
[[ "$(id -u)" == 0 ]] && chown postgres:postgres "$pg_data" "$db_root/pg-password"
as_postgres "$pg_bin/initdb" -D "$pg_data" -U modelbox_test --pwfile="$db_root/pg-password" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$db_root/initdb.log" 2>&1 ||
    fail_server "initdb failed" "$db_root/initdb.log"
# Durability is not under test: fsync off keeps the many small transactions of the suites fast.
as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || fail_server "PostgreSQL did not start on 127.0.0.1:$pg_port" "$pg_data/server.log"
cleanups+=("as_postgres '$pg_bin/pg_ctl' -D '$pg_data' -m immediate -w stop >/dev/null 2>&1")
export MODELBOX_TEST_POSTGRES_CONNECTION_STRING="Host=127.0.0.1;Port=$pg_port;Username=modelbox_test;Password=$db_password;Database=postgres"
# The resilience test stops and starts PostgreSQL mid-run; it starts a private cluster from these binaries (as
# the postgres user when the tests run as root) so that it disturbs no other test.
export MODELBOX_TEST_POSTGRES_BIN="$pg_bin"
echo "==> PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"

# MariaDB: its own data folder, socket and port; the test user may create databases (one per test run).
mariadbd_bin="$(mariadb_server_binary)" || fail_server "mariadbd/mysqld not found"
install_db="$(command -v mariadb-install-db || command -v mysql_install_db)" || fail_server "mariadb-install-db not found"
mariadb_client="$(command -v mariadb || command -v mysql)" || fail_server "the mariadb client was not found"
my_dir="$db_root/mariadb"
my_port="$(free_port)"
my_socket="$my_dir/mysqld.sock"
mkdir -p "$my_dir/data"
my_user=root
if [[ "$(id -u)" == 0 ]]; then
    my_user=mysql
    chown -R mysql:mysql "$my_dir"
fi
"$install_db" --no-defaults --user="$my_user" --datadir="$my_dir/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$db_root/mariadb-install.log" 2>&1 || fail_server "mariadb-install-db failed" "$db_root/mariadb-install.log"
"$mariadbd_bin" --no-defaults --user="$my_user" --datadir="$my_dir/data" --socket="$my_socket" --port="$my_port" \
    --bind-address=127.0.0.1 --pid-file="$my_dir/mysqld.pid" --log-error="$my_dir/error.log" --skip-log-bin \
    --local-infile=1 --max-connections=500 --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
    --innodb-buffer-pool-size=256M >/dev/null 2>&1 &
my_pid=$!
cleanups+=("kill $my_pid 2>/dev/null; wait $my_pid 2>/dev/null")
for _ in $(seq 1 300); do
    if "$mariadb_client" --no-defaults --socket="$my_socket" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
        break
    fi
    kill -0 "$my_pid" 2>/dev/null || fail_server "MariaDB exited during start-up" "$my_dir/error.log"
    sleep 0.1
done
"$mariadb_client" --no-defaults --socket="$my_socket" -uroot -e "
    CREATE USER 'modelbox_test'@'%' IDENTIFIED BY '$db_password';
    GRANT ALL PRIVILEGES ON *.* TO 'modelbox_test'@'%' WITH GRANT OPTION;" 2>"$db_root/mariadb-user.log" ||
    fail_server "MariaDB did not accept connections on $my_socket within 30 s" "$my_dir/error.log"
"$mariadb_client" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$my_port" -umodelbox_test -p"$db_password" -e 'SELECT 1' >/dev/null 2>&1 ||
    fail_server "MariaDB does not accept the test user on 127.0.0.1:$my_port" "$my_dir/error.log"
export MODELBOX_TEST_MYSQL_CONNECTION_STRING="Server=127.0.0.1;Port=$my_port;User ID=modelbox_test;Password=$db_password;AllowLoadLocalInfile=true"
# The MariaDB restart and kill tests start a private server from these binaries, so that they disturb no other test.
export MODELBOX_TEST_MARIADBD="$mariadbd_bin" MODELBOX_TEST_MARIADB_INSTALL_DB="$install_db"
echo "==> MariaDB $("$mariadbd_bin" --version | awk '{print $3}') on 127.0.0.1:$my_port"
# The S3 blob-store tests run against s3rver (an S3 wire-protocol server from npm) on loopback. It is installed into
# .tools/ (pinned), started on a free port with a temporary data folder, and stopped when this script exits.
s3rver_version=3.7.1
s3rver_dir="$root/.tools/s3rver"
s3rver_main="$s3rver_dir/node_modules/s3rver/bin/s3rver.js"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "==> installing test dependencies: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -f "$s3rver_main" ]] || ! grep -q "\"version\": \"$s3rver_version\"" "$s3rver_dir/node_modules/s3rver/package.json"; then
    echo "==> installing s3rver $s3rver_version into .tools/"
    mkdir -p "$s3rver_dir"
    (cd "$s3rver_dir" && npm install --no-audit --no-fund --silent --no-save "s3rver@$s3rver_version" >/dev/null)
fi
# The MLflow interop test drives the server with a third-party MLflow REST client from npm (pinned), kept in .tools/.
mlflow_js_version=2.0.7
mlflow_js_dir="$root/.tools/mlflow-js"
if [[ ! -f "$mlflow_js_dir/node_modules/mlflow/package.json" ]] || ! grep -q "\"version\": \"$mlflow_js_version\"" "$mlflow_js_dir/node_modules/mlflow/package.json"; then
    echo "==> installing the npm MLflow client $mlflow_js_version into .tools/"
    mkdir -p "$mlflow_js_dir"
    (cd "$mlflow_js_dir" && npm install --no-audit --no-fund --silent --no-save "mlflow@$mlflow_js_version" >/dev/null)
fi
export MODELBOX_TEST_MLFLOW_JS="$mlflow_js_dir/node_modules"
# A download that stalls in the reliability tests reports the managed stacks of the server and of the test process,
# taken with dotnet-stack (pinned, kept in .tools/) while it still hangs.
dotnet_stack_version=10.0.750501
dotnet_stack_dir="$root/.tools/dotnet-stack"
if [[ ! -x "$dotnet_stack_dir/dotnet-stack" ]]; then
    echo "==> installing dotnet-stack $dotnet_stack_version into .tools/"
    # Only a diagnostic: without it a stall is still reported, just without stacks.
    dotnet tool install --tool-path "$dotnet_stack_dir" dotnet-stack --version "$dotnet_stack_version" >/dev/null ||
        echo "warning: dotnet-stack could not be installed; a stalled download will be reported without stacks" >&2
fi
export PATH="$PATH:$dotnet_stack_dir"
# s3rver decodes x-amz-copy-source with decodeURI, which leaves %2F encoded; S3 decodes the whole header (the AWS SDK
# encodes the '/' between bucket and key). Apply S3's behaviour so server-side copies work as they do on S3.
sed -i "s/decodeURI(ctx.headers\['x-amz-copy-source'\])/decodeURIComponent(ctx.headers['x-amz-copy-source'])/" \
    "$s3rver_dir/node_modules/s3rver/lib/controllers/object.js"

s3rver_data="$(mktemp -d)"
s3rver_port="$(free_port)"
node "$s3rver_main" -d "$s3rver_data" -a 127.0.0.1 -p "$s3rver_port" -s >"$s3rver_data.log" 2>&1 &
s3rver_pid=$!
stop_s3rver() {
    kill "$s3rver_pid" 2>/dev/null || true
    wait "$s3rver_pid" 2>/dev/null || true
    rm -rf "$s3rver_data" "$s3rver_data.log"
}
cleanups+=(stop_s3rver)
for _ in $(seq 1 100); do
    if "$debian_python" -c "import socket, sys; socket.create_connection(('127.0.0.1', $s3rver_port), timeout=0.2)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$s3rver_pid" 2>/dev/null; then
        echo "s3rver exited during start-up:" >&2
        cat "$s3rver_data.log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! "$debian_python" -c "import socket; socket.create_connection(('127.0.0.1', $s3rver_port), timeout=0.5)" 2>/dev/null; then
    echo "s3rver did not open port $s3rver_port within 10 s:" >&2
    cat "$s3rver_data.log" >&2
    exit 1
fi
export MODELBOX_TEST_S3_ENDPOINT="http://127.0.0.1:$s3rver_port"
# Tests that stop and start an S3 server of their own (the outage tests) run this s3rver.
export MODELBOX_TEST_S3RVER="$s3rver_main"
echo "==> s3rver on $MODELBOX_TEST_S3_ENDPOINT"

if ((${#with_servers[@]} > 0)); then
    set +e
    "${with_servers[@]}"
    status=$?
    exit $status
fi

rm -rf "$results_dir"
mkdir -p "$results_dir"

echo "==> dotnet test ModelBox.slnx -c Release"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
set +e
# Extra arguments go to dotnet test (for example --filter "FullyQualifiedName~Postgres" while developing).
dotnet test ModelBox.slnx -c Release \
    --logger "trx;LogFilePrefix=r" \
    --results-directory "$results_dir" "$@"
dotnet_status=$?

# The Python SDK against the modelbox executable `dotnet test` just built (Release), results as JUnit XML.
echo "==> pytest sdk/python/tests"
MODELBOX_DLL="$root/src/ModelBox/bin/Release/net10.0/modelbox.dll" "$debian_python" -m pytest sdk/python/tests -q \
    -p no:cacheprovider --junitxml="$results_dir/python-sdk.junit.xml"
pytest_status=$?
set -e

"$debian_python" - "$results_dir" "$dotnet_status" "$pytest_status" <<'PY'
import glob
import os
import sys
import xml.etree.ElementTree as ET

results_dir, dotnet_status, pytest_status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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
        text = (info.findtext("t:Text", default="", namespaces=ns) or "").strip().splitlines()
        # xunit also echoes each failed test as an error RunInfo ("[FAIL]"); those are counted from the results above.
        if info.get("outcome") == "Error" and text and "[FAIL]" not in text[0]:
            project = os.path.basename(path)
            projects.setdefault(project, [0, 0, 0])[1] += 1
            # The whole text (a fixture's message names what the server logged), folded to 60 lines at most.
            detail = "\n      ".join(text[:60]) + ("\n      ..." if len(text) > 60 else "")
            failures.append(f"{project}: run error: {detail}")

# The Python SDK's pytest results (JUnit XML).
for path in sorted(glob.glob(os.path.join(results_dir, "*.junit.xml"))):
    counts = projects.setdefault("python-sdk (pytest)", [0, 0, 0])
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts[1] += 1
            failures.append(f"python-sdk: {case.get('classname')}.{case.get('name')}")
        elif case.find("skipped") is not None:
            counts[2] += 1
        else:
            counts[0] += 1
# A collection error or a crash is no failed test case (nor, maybe, a report); it must still fail the run.
if pytest_status not in (0, 1) and projects.get("python-sdk (pytest)", [0, 0, 0])[1] == 0:
    projects.setdefault("python-sdk (pytest)", [0, 0, 0])[1] += 1
    failures.append(f"python-sdk: pytest exited with status {pytest_status}")

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
if pytest_status != 0:
    print(f"pytest exited with status {pytest_status}")
if total == 0:
    print(f"no test results found in {results_dir}")
sys.stdout.flush()

summary = f"{passed} passed, {failed} failed"
if skipped > 0:
    summary += f", {skipped} skipped"
print(summary)
sys.exit(1 if failed > 0 or total == 0 or dotnet_status != 0 or pytest_status != 0 else 0)
PY
