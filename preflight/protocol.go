package preflight

import (
	"encoding/json"
	"errors"

	"github.com/guardrun/guardrun/analyzers/lint"
	"github.com/guardrun/guardrun/policy"
)

// Protocol is the version of the request/response protocol between guardrun
// and guardrun-guard. A guard that answers with another version is refused.
const Protocol = 1

// Request is what guardrun sends guardrun-guard on its stdin: one JSON
// document asking for a policy verdict, netlint verdicts, or both.
type Request struct {
	Protocol int `json:"protocol"`
	// Policy asks for a policy verdict; nil asks for none.
	Policy *PolicyRequest `json:"policy,omitempty"`
	// Lint lists absolute directories of Go main packages to lint.
	Lint []string `json:"lint,omitempty"`
}

// PolicyRequest asks for the verdict on one input document.
type PolicyRequest struct {
	// Dirs are the --policy directories (as given, relative to the working
	// directory guardrun-guard inherits).
	Dirs   []string `json:"dirs,omitempty"`
	Strict bool     `json:"strict,omitempty"`
	// Input is the document policy.InputJSON built: the guard judges
	// exactly what guardrun fingerprinted.
	Input json.RawMessage `json:"input"`
	// Fingerprint is policy.FingerprintInput of Input as guardrun computed
	// it; the guard computes it again and refuses to answer for another
	// policy (a guard from another build of guardrun).
	Fingerprint string `json:"fingerprint"`
}

// Response is what guardrun-guard writes on its stdout: one JSON document.
type Response struct {
	Protocol int `json:"protocol"`
	// Policy answers Request.Policy.
	Policy *PolicyResponse `json:"policy,omitempty"`
	// Lint answers Request.Lint, in its order. It is empty when the policy
	// refused the spec: the Go processors of a refused spec are not linted.
	Lint []LintResponse `json:"lint,omitempty"`
	// Error is a failure of the guard itself (a request it cannot read, a
	// fingerprint that does not match).
	Error string `json:"error,omitempty"`
}

// PolicyResponse is a policy verdict, or why there is none.
type PolicyResponse struct {
	Result *policy.Result `json:"result,omitempty"`
	// Error is a policy that cannot be used (a module that does not parse,
	// a refused builtin): a *policy.Error.
	Error *ErrorReport `json:"error,omitempty"`
}

// LintResponse is the netlint verdict on one package, or why there is none.
type LintResponse struct {
	Dir      string         `json:"dir"`
	Findings []lint.Finding `json:"findings"`
	// Error is a package that cannot be linted: a *lint.Error.
	Error *ErrorReport `json:"error,omitempty"`
}

// ErrorReport carries a typed error across the process boundary.
type ErrorReport struct {
	// Op is lint.Error's Op.
	Op string `json:"op,omitempty"`
	// File and Builtin are policy.Error's.
	File    string `json:"file,omitempty"`
	Builtin string `json:"builtin,omitempty"`
	// Message is the wrapped error's message.
	Message string `json:"message"`
}

// ReportPolicyError turns a policy error into its report (for the guard).
func ReportPolicyError(err error) *ErrorReport {
	r := &ErrorReport{Message: err.Error()}
	var pe *policy.Error
	if errors.As(err, &pe) {
		r.File, r.Builtin = pe.File, pe.Builtin
		if pe.Err != nil {
			r.Message = pe.Err.Error()
		}
	}
	return r
}

// ReportLintError turns a lint error into its report (for the guard).
func ReportLintError(err error) *ErrorReport {
	r := &ErrorReport{Op: "analyze", Message: err.Error()}
	var le *lint.Error
	if errors.As(err, &le) {
		r.Op = le.Op
		if le.Err != nil {
			r.Message = le.Err.Error()
		}
	}
	return r
}

// policyError is the *policy.Error a report stands for.
func (r *ErrorReport) policyError() error {
	return &policy.Error{File: r.File, Builtin: r.Builtin, Err: errors.New(r.Message)}
}

// lintError is the *lint.Error a report stands for.
func (r *ErrorReport) lintError() error {
	return &lint.Error{Op: r.Op, Err: errors.New(r.Message)}
}
