package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/guardrun/guardrun/analyzers/suite"
	"github.com/guardrun/guardrun/policy"
	"github.com/guardrun/guardrun/policy/engine"
	"github.com/guardrun/guardrun/preflight"
)

// Local computes verdicts in this process. It is safe for concurrent use.
type Local struct{}

// Judge answers req as guardrun-guard would.
func (Local) Judge(ctx context.Context, req *preflight.Request) (*preflight.Response, error) {
	resp := Judge(ctx, req)
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp, nil
}

// Judge computes the verdicts req asks for. A policy that refuses the spec
// (or cannot be used) ends the request: the Go processors of a refused spec
// are not linted.
func Judge(ctx context.Context, req *preflight.Request) *preflight.Response {
	resp := &preflight.Response{Protocol: preflight.Protocol}
	if req.Protocol != preflight.Protocol {
		resp.Error = fmt.Sprintf("request of protocol %d, this guard speaks %d: rebuild guardrun and %s from the same source", req.Protocol, preflight.Protocol, preflight.GuardName)
		return resp
	}
	if pr := req.Policy; pr != nil {
		opts := policy.Options{Dirs: pr.Dirs, Strict: pr.Strict}
		resp.Policy = &preflight.PolicyResponse{}
		fp, err := policy.FingerprintInput(opts, pr.Input)
		if err != nil {
			resp.Policy.Error = preflight.ReportPolicyError(err)
			return resp
		}
		if fp != pr.Fingerprint {
			resp.Error = fmt.Sprintf("the policy fingerprints differently here (%.12s, guardrun %.12s): guardrun and %s come from different builds, or a policy module changed meanwhile", fp, pr.Fingerprint, preflight.GuardName)
			return resp
		}
		res, err := evaluate(ctx, opts, pr.Input)
		if err != nil {
			resp.Policy.Error = preflight.ReportPolicyError(err)
			return resp
		}
		resp.Policy.Result = res
		if res.Failed(pr.Strict) {
			return resp
		}
	}
	// Packages are linted one after another: go/packages already uses every
	// core for one, and its memory grows with each concurrent load.
	for _, dir := range req.Lint {
		lr := preflight.LintResponse{Dir: dir, Findings: []suite.Finding{}}
		fs, err := suite.VetPackage(ctx, dir, true)
		if err != nil {
			lr.Error = preflight.ReportLintError(err)
		} else if len(fs) > 0 {
			lr.Findings = fs
		}
		resp.Lint = append(resp.Lint, lr)
	}
	return resp
}

// engines are the compiled policies of this process, by options: a
// compiled policy is reused (the engine is safe for concurrent use).
var engines sync.Map // string -> *engineOnce

type engineOnce struct {
	once sync.Once
	eng  *engine.Engine
	err  error
}

func evaluate(ctx context.Context, opts policy.Options, input []byte) (*policy.Result, error) {
	key, _ := json.Marshal(opts)
	v, _ := engines.LoadOrStore(string(key), &engineOnce{})
	e := v.(*engineOnce)
	e.once.Do(func() { e.eng, e.err = engine.New(ctx, opts) })
	if e.err != nil {
		// A failed compilation is not remembered: the modules may be fixed.
		engines.CompareAndDelete(string(key), e)
		return nil, e.err
	}
	return e.eng.EvaluateInput(ctx, input)
}

// Main is guardrun-guard: it reads one request on stdin, writes one response
// on stdout and exits 0, or explains on stderr and exits 2.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprint(stderr, usage)
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return 0
		}
		return 2
	}
	var req preflight.Request
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintf(stderr, "%s: reading the request on stdin: %v\n\n%s", preflight.GuardName, err, usage)
		return 2
	}
	resp := Judge(ctx, &req)
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(resp); err != nil {
		fmt.Fprintf(stderr, "%s: writing the response: %v\n", preflight.GuardName, err)
		return 2
	}
	return 0
}

const usage = `guardrun-guard computes verdicts for guardrun: it evaluates the policy (OPA)
and lints Go processors (netlint). guardrun starts it when a verdict is not in
its cache (state/preflight.json), and always for 'guardrun check'; it is not
meant to be run by hand.

Keep it next to the guardrun executable (or point $GUARDRUN_GUARD at it):

    go build -o bin/guardrun ./cmd/guardrun
    go build -o bin/guardrun-guard ./cmd/guardrun-guard

Protocol: one JSON request on stdin, one JSON response on stdout, exit 0
(docs/POLICY.md, "guardrun-guard"). Exit 2: a request it cannot read.
`
