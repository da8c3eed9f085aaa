# Mirror of run_demo.sh for Windows PowerShell.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
New-Item -ItemType Directory -Force -Path bin | Out-Null
$env:CGO_ENABLED = '0'
go build -trimpath -o bin/ ./cmd/guardrun ./cmd/guardrun-guard
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== guardrun check"
./bin/guardrun.exe check --pipeline pipeline.json
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== first run"
./bin/guardrun.exe run --pipeline pipeline.json --run-id demo1
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== second run (nothing changed: both stages skip)"
./bin/guardrun.exe run --pipeline pipeline.json --run-id demo2
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== result (data/output/result.txt)"
Get-Content data/output/result.txt
Write-Host "== status"
./bin/guardrun.exe status --pipeline pipeline.json
exit $LASTEXITCODE
