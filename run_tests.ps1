# Mirror of run_tests.sh for Windows PowerShell: vet, test with coverage, cross-compile.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$min = if ($env:MIN_COVERAGE) { [double]$env:MIN_COVERAGE } else { 70 }
function Check { if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE } }
go mod download; Check
go vet ./...; Check
go run ./cmd/netlint ./...; Check
go run ./cmd/netlint -transitive ./...; Check
foreach ($t in @('linux/amd64', 'darwin/arm64')) {
  $env:GOOS, $env:GOARCH = $t.Split('/'); go build -o NUL ./cmd/guardrun; Check
  go build -o NUL ./cmd/guardrun-guard; Check
}
Remove-Item Env:GOOS, Env:GOARCH
# guardrun links neither OPA nor go/analysis: they are guardrun-guard's (start-up).
$heavy = go list -deps ./cmd/guardrun | Select-String -Pattern 'open-policy-agent|golang.org/x/tools'
if ($heavy) { Write-Host "cmd/guardrun links packages that belong in cmd/guardrun-guard:"; $heavy; exit 1 }
$cov = Join-Path ([IO.Path]::GetTempPath()) "guardrun-cover.out"
go test -race -covermode=atomic -coverpkg=./... "-coverprofile=$cov" -timeout 20m ./...; Check
$total = (go tool cover "-func=$cov" | Select-String '^total:').ToString().Split()[-1].TrimEnd('%')
Write-Host "total coverage: $total%"
if ([double]$total -lt $min) { Write-Host "coverage $total% is under $min%"; exit 1 }
# The VM stage of run_tests.sh (vmtest/run.sh: Debian kernels in QEMU, the
# sandbox on cgroup v2) is Linux-only: Windows has no cgroups to prove.
Write-Host "all checks passed"
