#!/usr/bin/env bash
# Bootstraps a fresh machine (the .NET local tools: the Cake runner) and runs build/build.cake.
# Usage: ./build.sh [--target=<Task>] [--configuration=Release|Debug] [other Cake arguments]
#        ./build.sh --help          this text and the list of tasks
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK 10 is required (dotnet was not found on PATH)" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null

for arg in "$@"; do
  case "$arg" in
    -h|--help|help)
      sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
      echo
      echo "Tasks:"
      dotnet cake build/build.cake --description
      exit 0 ;;
  esac
done

exec dotnet cake build/build.cake "$@"
