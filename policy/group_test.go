package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupHundredIdenticalFindings(t *testing.T) {
	const msg = `processor.exec[0] "python3" resolves to "/usr/bin/python3", outside the workspace "/ws"`
	var vs []Violation
	for i := 1; i <= 100; i++ {
		vs = append(vs, Violation{Rule: "GR001", Stage: fmt.Sprintf("stage_%04d", i), Message: msg, Severity: SeverityDeny})
	}
	vs = append(vs, Violation{Rule: "GR102", Stage: "stage_0007", Message: "idempotency is disabled", Severity: SeverityWarn})

	groups := GroupViolations(vs)
	require.Len(t, groups, 2)
	assert.Len(t, groups[0].Stages, 100)
	assert.Equal(t, "stage_0001", groups[0].Stages[0])
	assert.Equal(t, "stage_0100", groups[0].Stages[99])
	assert.Equal(t, []string{
		`deny [GR001] 100 stages (stage_0001, stage_0002, stage_0003, ...): ` + msg,
		`warn [GR102] stage_0007: idempotency is disabled`,
	}, FormatViolations(vs))

	err := (&Result{Violations: vs}).Err(false)
	require.Error(t, err)
	assert.Equal(t, "policy refused the pipeline: 100 denied, 1 warnings\n  deny [GR001] 100 stages (stage_0001, stage_0002, stage_0003, ...): "+msg+
		"\n  warn [GR102] stage_0007: idempotency is disabled", err.Error(), "no hint: the message names nothing to allow")
	assert.Len(t, err.(*ViolationError).Result.Violations, 101, "the result keeps every violation")
}

// A denial that names a path to allow ends the error with the policy file
// that would allow it, once per path.
func TestRefusalSaysHowToAllow(t *testing.T) {
	msg := func(p string) string {
		return fmt.Sprintf(`processor.exec[0] "python3" resolves to %q, outside the workspace "/ws"; copy it into the workspace, or allow %q in data.guardrun.config.allowed_outside_paths`, p, p)
	}
	vs := []Violation{
		{Rule: "GR001", Stage: "a", Message: msg("/usr/bin/python3.11"), Severity: SeverityDeny},
		{Rule: "GR001", Stage: "b", Message: msg("/usr/bin/python3.11"), Severity: SeverityDeny},
		{Rule: "GR001", Stage: "c", Message: msg(`/opt/we"ird`), Severity: SeverityDeny},
		{Rule: "GR900", Stage: "d", Message: msg("/only/a/warning"), Severity: SeverityWarn},
	}
	err := (&Result{Violations: vs}).Err(false)
	require.Error(t, err)
	assert.True(t, strings.HasSuffix(err.Error(), "\n  to allow them: a directory with a .rego file holding\n      package guardrun.config\n"+
		`      allowed_outside_paths contains "/usr/bin/python3.11"`+"\n"+
		`      allowed_outside_paths contains "/opt/we\"ird"`+"\n"+
		`    and --policy DIR on check, plan and run (README, "Policy")`), err.Error())
}

func TestGroupViolations(t *testing.T) {
	deny := func(rule, stage, msg string) Violation {
		return Violation{Rule: rule, Stage: stage, Message: msg, Severity: SeverityDeny}
	}
	cases := []struct {
		name string
		vs   []Violation
		want []string
	}{
		{name: "none", vs: nil, want: []string{}},
		{name: "one", vs: []Violation{deny("GR005", "a", "proxy")}, want: []string{"deny [GR005] a: proxy"}},
		{name: "two stages", vs: []Violation{deny("GR005", "a", "proxy"), deny("GR005", "b", "proxy")},
			want: []string{"deny [GR005] 2 stages (a, b): proxy"}},
		{name: "three stages name them all", vs: []Violation{deny("R", "a", "m"), deny("R", "b", "m"), deny("R", "c", "m")},
			want: []string{"deny [R] 3 stages (a, b, c): m"}},
		{name: "the stage's own name is abstracted",
			vs:   []Violation{deny("ORG1", "load_a", "stage load_a needs TEAM"), deny("ORG1", "load_b", "stage load_b needs TEAM")},
			want: []string{"deny [ORG1] 2 stages (load_a, load_b): stage <stage> needs TEAM"}},
		{name: "only whole words are the stage's name",
			vs:   []Violation{deny("R", "a", "a reads data/a-b.txt"), deny("R", "b", "b reads data/a-b.txt")},
			want: []string{"deny [R] 2 stages (a, b): <stage> reads data/a-b.txt"}},
		{name: "different messages stay apart",
			vs:   []Violation{deny("GR002", "a", `inputs[0] "/x"`), deny("GR002", "b", `inputs[0] "/y"`)},
			want: []string{`deny [GR002] a: inputs[0] "/x"`, `deny [GR002] b: inputs[0] "/y"`}},
		{name: "different rules and severities stay apart",
			vs:   []Violation{deny("R1", "a", "m"), deny("R2", "b", "m"), {Rule: "R1", Stage: "c", Message: "m", Severity: SeverityWarn}},
			want: []string{"deny [R1] a: m", "deny [R2] b: m", "warn [R1] c: m"}},
		{name: "pipeline-wide findings are not stage findings",
			vs:   []Violation{deny("R", "", "m"), deny("R", "a", "m")},
			want: []string{"deny [R] (pipeline): m", "deny [R] a: m"}},
		{name: "order of first appearance",
			vs:   []Violation{deny("R1", "a", "m"), deny("R2", "a", "n"), deny("R1", "b", "m")},
			want: []string{"deny [R1] 2 stages (a, b): m", "deny [R2] a: n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatViolations(tc.vs)
			assert.Equal(t, tc.want, got)
			n := 0
			for _, g := range GroupViolations(tc.vs) {
				n += max(len(g.Stages), 1)
			}
			assert.Equal(t, len(tc.vs), n, "every violation is in one group")
		})
	}
}

func TestAbstractStage(t *testing.T) {
	assert.Equal(t, "<stage> and <stage>", abstractStage("s and s", "s"))
	assert.Equal(t, "ss and s_x", abstractStage("ss and s_x", "s"))
	assert.Equal(t, `"<stage>"`, abstractStage(`"s"`, "s"))
	assert.Equal(t, "m", abstractStage("m", ""))
	assert.Equal(t, "<stage>: <stage>.txt", abstractStage("copy: copy.txt", "copy"), "'.' ends a word")
	assert.Equal(t, "ab-ab <stage>", abstractStage("ab-ab ab", "ab"), "a longer name with a hyphen is not the stage")
}
