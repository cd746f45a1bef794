#!/usr/bin/env bash
# Builds the single-file, self-contained `modelbox` executable for each platform into dist/:
#   dist/modelbox-linux-x64, dist/modelbox-linux-arm64, dist/modelbox-osx-arm64, dist/modelbox-win-x64.exe
# Usage: build/dist.sh [RID ...]   (default: linux-x64 linux-arm64 osx-arm64 win-x64)
# Each is `dotnet publish src/ModelBox/ModelBox.csproj -c Release -r RID --self-contained -p:PublishSingleFile=true`
# (the project sets ReadyToRun and bundles the native libraries); the runtime packs come from NuGet on first use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rids=("$@")
((${#rids[@]} > 0)) || rids=(linux-x64 linux-arm64 osx-arm64 win-x64)

mkdir -p dist
for rid in "${rids[@]}"; do
    out="artifacts/publish/$rid"
    rm -rf "$out"
    echo "==> $rid"
    dotnet publish src/ModelBox/ModelBox.csproj -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
        -o "$out" -nologo -v quiet
    exe=modelbox
    [[ "$rid" == win-* ]] && exe=modelbox.exe
    files=("$out"/*)
    if ((${#files[@]} != 1)); then
        echo "error: $rid published ${#files[@]} files, expected only $exe: ${files[*]}" >&2
        exit 1
    fi
    target="dist/modelbox-$rid"
    [[ "$rid" == win-* ]] && target="$target.exe"
    cp "$out/$exe" "$target"
    (cd dist && sha256sum "$(basename "$target")" >"$(basename "$target").sha256")
    echo "    $target $(du -h "$target" | cut -f1)"
done
