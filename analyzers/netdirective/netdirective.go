package netdirective

import (
	"fmt"

	"github.com/guardrun/guardrun/analyzers/internal/suppress"
	"golang.org/x/tools/go/analysis"
)

// Doc is the analyzer's documentation.
const Doc = `report netlint directives without a reason or with an unknown verb

A suppression must be written "//netlint:allow <reason>"; one without a
reason suppresses nothing and is itself a finding.`

// Analyzer is the netdirective analyzer.
var Analyzer = &analysis.Analyzer{
	Name: "netdirective",
	Doc:  Doc,
	URL:  "https://github.com/guardrun/guardrun/blob/main/docs/NETLINT.md#suppression",
	Run:  run,
}

func run(pass *analysis.Pass) (any, error) {
	if !suppress.Honoured(pass) {
		return nil, nil
	}
	for _, d := range suppress.New(pass).Directives() {
		switch {
		case !d.Known:
			pass.Report(analysis.Diagnostic{Pos: d.Pos, Category: "netdirective",
				Message: fmt.Sprintf("unknown netlint directive %q: the only directive is //netlint:allow <reason>", suppress.Prefix+d.Verb)})
		case d.Reason == "":
			pass.Report(analysis.Diagnostic{Pos: d.Pos, Category: "netdirective",
				Message: "//netlint:allow needs a reason (//netlint:allow <why this is safe>); it suppresses nothing without one"})
		}
	}
	return nil, nil
}
