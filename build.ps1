#!/usr/bin/env pwsh
# Bootstraps a fresh machine and runs build/build.cake with the Cake runner (the same as build.sh): restores the .NET
# local tools, fetches the tokenizers the default pipeline uses (build/fetch-tokenizers.sh, once, where bash is), and
# lets the Cake script build the sharptune CLI when it is missing or out of date.
# Usage: ./build.ps1 [--target=<Task>] [--pipeline=pipelines/x.yaml] [--exclusive] [--force=<Stage>[,...]] [--configuration=Release|Debug]
#        ./build.ps1 --target=Publish                 the whole pipeline (default: the built-in CPU pipeline)
#        ./build.ps1 --target=TrainLoRA --exclusive   that stage alone, again (its inputs must be cached)
#        ./build.ps1 --help                           this text and the list of tasks
# Without PowerShell installed: dotnet tool restore; dotnet pwsh ./build.ps1 ...
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    [Console]::Error.WriteLine('error: the .NET SDK 10 is required (dotnet was not found on PATH)')
    exit 1
}

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
$env:CAKE_SETTINGS_ENABLESCRIPTCACHE = 'true'
dotnet tool restore | Out-Null
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

if ($args | Where-Object { $_ -in @('-h', '--help', 'help') }) {
    Get-Content -LiteralPath $PSCommandPath | Select-Object -Skip 1 -First 8 | ForEach-Object { $_ -replace '^# ?', '' }
    ''
    'Tasks:'
    dotnet cake build/build.cake --description
    exit $LASTEXITCODE
}

$fetch = Join-Path $PSScriptRoot 'build/fetch-tokenizers.sh'
$llama3 = Join-Path $PSScriptRoot '.tools/tokenizers/llama3/tokenizer.json'
if ((Test-Path -LiteralPath $fetch) -and -not (Test-Path -LiteralPath $llama3) -and (Get-Command bash -ErrorAction SilentlyContinue)) {
    bash $fetch
    if ($LASTEXITCODE -ne 0) {
        [Console]::Error.WriteLine('warning: build/fetch-tokenizers.sh failed; pipelines that need .tools/tokenizers will say so')
    }
}

dotnet cake build/build.cake @args
exit $LASTEXITCODE
