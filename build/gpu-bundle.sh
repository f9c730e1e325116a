#!/usr/bin/env bash
# Builds a bundle that runs SharpTune on a GPU host where .NET is not installed (self-hosted GPU runners, rented
# machines): the published CLI and the GPU test assembly, framework-dependent, WITHOUT the 600 MB libtorch-cpu natives
# (the host's PyTorch or SHARPTUNE_LIBTORCH provides a CUDA libtorch), plus the .NET runtime as a tarball.
#
#   build/gpu-bundle.sh [OUTDIR]        (default: .gpu)
#
# On the GPU host:
#   OUTDIR/run.sh sharptune doctor --device cuda
#   OUTDIR/run.sh gpu-tests [xunit options]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$repo/.gpu}" && cd "${1:-$repo/.gpu}" && pwd)"
limit_mib=64

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_dir="$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)"
[ -d "$runtime_dir" ] || { echo "error: no .NET 10 runtime under $dotnet_root" >&2; exit 1; }

rm -rf "$out/cli" "$out/gpu-tests" "$out/app.tar.xz"
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
publish() {
  dotnet publish "$1" -c Release -r linux-x64 --self-contained false -p:SharpTuneBringYourOwnLibTorch=true \
    -p:DebugType=none -o "$2" -v quiet -nologo
}
echo "publishing the CLI and the GPU tests (bring-your-own-libtorch)..." >&2
publish "$repo/src/SharpTune.Cli/SharpTune.Cli.csproj" "$staging/cli"
publish "$repo/tests/SharpTune.GpuTests/SharpTune.GpuTests.csproj" "$staging/gpu-tests"
if find "$staging" -name 'libtorch_cpu.so' | grep -q .; then
  echo "error: libtorch natives ended up in the bundle" >&2; exit 1
fi

# The runtime tarball only changes with the runtime version: keep it when it is already there.
runtime_stamp="$out/dotnet.version"
if [ ! -f "$out/dotnet.tar.xz" ] || [ "$(cat "$runtime_stamp" 2>/dev/null)" != "$(basename "$runtime_dir")" ]; then
  echo "packing the .NET runtime $(basename "$runtime_dir")..." >&2
  tar -cJf "$out/dotnet.tar.xz.tmp" -C "$dotnet_root" dotnet host "shared/Microsoft.NETCore.App/$(basename "$runtime_dir")"
  mv "$out/dotnet.tar.xz.tmp" "$out/dotnet.tar.xz"
  basename "$runtime_dir" > "$runtime_stamp"
fi
tar -cJf "$out/app.tar.xz" -C "$staging" cli gpu-tests

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs SharpTune from this bundle: unpacks the .NET runtime and the app once (into $SHARPTUNE_BUNDLE_HOME,
# default /tmp/sharptune-bundle), then runs `sharptune ARGS...` or `gpu-tests ARGS...`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${SHARPTUNE_BUNDLE_HOME:-/tmp/sharptune-bundle}"
stamp="$(cat "$here/dotnet.tar.xz" "$here/app.tar.xz" | cksum | cut -d' ' -f1)"
if [ ! -f "$home/.stamp-$stamp" ]; then
  rm -rf "$home" && mkdir -p "$home/dotnet"
  tar -xJf "$here/dotnet.tar.xz" -C "$home/dotnet"
  tar -xJf "$here/app.tar.xz" -C "$home"
  touch "$home/.stamp-$stamp"
fi
export DOTNET_ROOT="$home/dotnet" PATH="$home/dotnet:$PATH" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
what="${1:-}"; shift || true
case "$what" in
  sharptune) exec dotnet "$home/cli/SharpTune.Cli.dll" "$@" ;;
  gpu-tests) exec dotnet "$home/gpu-tests/SharpTune.GpuTests.dll" "$@" ;;
  *) echo "usage: run.sh sharptune ARGS... | run.sh gpu-tests [xunit options]" >&2; exit 2 ;;
esac
RUN
chmod +x "$out/run.sh"

size_mib=$(( $(du -sb "$out" | cut -f1) / 1048576 ))
echo "bundle: $out (${size_mib} MiB)" >&2
if [ "$size_mib" -ge "$limit_mib" ]; then
  echo "error: the bundle is ${size_mib} MiB, over the ${limit_mib} MiB limit" >&2; exit 1
fi
