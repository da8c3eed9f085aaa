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
./bin/guardrun.exe run --pipeline pipeline.json
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== second run (nothing changed: every stage skips)"
./bin/guardrun.exe run --pipeline pipeline.json
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
# The demo's own extra input file, removed again whatever happens.
$extra = 'data/input/delta.txt'
try {
    [IO.File]::WriteAllText((Join-Path $PSScriptRoot $extra), "delta: added by run_demo.ps1, deleted again below.`n")
    Write-Host "== fan-out: $extra added (plan, then run: only its item runs, and count)"
    ./bin/guardrun.exe plan --pipeline pipeline.json
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    ./bin/guardrun.exe run --pipeline pipeline.json
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
} finally {
    Remove-Item -Force -ErrorAction SilentlyContinue $extra
}
Write-Host "== fan-out: $extra deleted (its output data/each/delta.txt is removed, count reruns)"
./bin/guardrun.exe run --pipeline pipeline.json
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "== result (data/output/result.txt)"
Get-Content data/output/result.txt
Write-Host "== fan-in (data/output/counts.tsv: path, lines, words, bytes of each data/each file)"
Get-Content data/output/counts.tsv
Write-Host "== status"
./bin/guardrun.exe status --pipeline pipeline.json
exit $LASTEXITCODE
