#!/usr/bin/env pwsh
# Bootstraps a fresh machine (the .NET local tools: the Cake runner) and runs build/build.cake.
# Usage: ./build.ps1 [--target=<Task>] [--configuration=Release|Debug] [other Cake arguments]
#        ./build.ps1 --help          this text and the list of tasks
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    [Console]::Error.WriteLine('error: the .NET SDK 10 is required (dotnet was not found on PATH)')
    exit 1
}

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
dotnet tool restore | Out-Null
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

if ($args | Where-Object { $_ -in @('-h', '--help', 'help') }) {
    Get-Content -LiteralPath $PSCommandPath | Select-Object -Skip 1 -First 3 | ForEach-Object { $_ -replace '^# ?', '' }
    ''
    'Tasks:'
    dotnet cake build/build.cake --description
    exit $LASTEXITCODE
}

dotnet cake build/build.cake @args
exit $LASTEXITCODE
