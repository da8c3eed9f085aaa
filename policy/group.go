package policy

import (
	"fmt"
	"strings"
)

// StagePlaceholder stands for the stage's name in the message of a Group.
const StagePlaceholder = "<stage>"

// groupShown is how many stage names a Group's line names before "...".
const groupShown = 3

// Group is one finding that several stages share: the same severity, rule
// and message once the stage's own name in it is abstracted away.
type Group struct {
	Severity string
	Rule     string
	// Message is the message of the first violation, with that stage's
	// name replaced by StagePlaceholder when the group has several stages.
	Message string
	// Stages are the stages in the order of the violations; empty for a
	// pipeline-wide finding.
	Stages []string
}

// String is the group as one line: a single violation exactly as
// Violation.String prints it, several as
// `deny [GR001] 4501 stages (stage_0001, stage_0002, stage_0003, ...): msg`.
func (g Group) String() string {
	switch len(g.Stages) {
	case 0:
		return Violation{Severity: g.Severity, Rule: g.Rule, Message: g.Message}.String()
	case 1:
		return Violation{Severity: g.Severity, Rule: g.Rule, Stage: g.Stages[0], Message: g.Message}.String()
	}
	names := g.Stages
	more := ""
	if len(names) > groupShown {
		names, more = names[:groupShown], ", ..."
	}
	return fmt.Sprintf("%s [%s] %d stages (%s%s): %s", g.Severity, g.Rule, len(g.Stages), strings.Join(names, ", "), more, g.Message)
}

// GroupViolations groups identical findings of different stages, in the
// order of their first violation, so that 4,501 stages with the same
// problem print one line instead of 4,501. Every violation is in exactly one
// group; machine-readable output should keep the violations themselves.
func GroupViolations(vs []Violation) []Group {
	var groups []Group
	index := map[string]int{}
	for _, v := range vs {
		msg := v.Message
		key := v.Severity + "\x00" + v.Rule + "\x00"
		if v.Stage == "" {
			key += "pipeline\x00" + msg
		} else {
			key += "stage\x00" + abstractStage(msg, v.Stage)
		}
		i, ok := index[key]
		if !ok {
			index[key] = len(groups)
			g := Group{Severity: v.Severity, Rule: v.Rule, Message: msg}
			if v.Stage != "" {
				g.Stages = []string{v.Stage}
			}
			groups = append(groups, g)
			continue
		}
		g := &groups[i]
		if len(g.Stages) == 1 {
			g.Message = abstractStage(g.Message, g.Stages[0])
		}
		g.Stages = append(g.Stages, v.Stage)
	}
	return groups
}

// FormatViolations returns one line per group of vs (GroupViolations).
func FormatViolations(vs []Violation) []string {
	groups := GroupViolations(vs)
	lines := make([]string, len(groups))
	for i, g := range groups {
		lines[i] = g.String()
	}
	return lines
}

// abstractStage replaces every occurrence of the stage name in msg that is
// a whole word (not part of a longer name) by StagePlaceholder.
func abstractStage(msg, stage string) string {
	if stage == "" || !strings.Contains(msg, stage) {
		return msg
	}
	var b strings.Builder
	last := 0 // msg[:last] is written
	for from := 0; ; {
		i := strings.Index(msg[from:], stage)
		if i < 0 {
			break
		}
		i += from
		end := i + len(stage)
		if (i == 0 || !isNameByte(msg[i-1])) && (end == len(msg) || !isNameByte(msg[end])) {
			b.WriteString(msg[last:i])
			b.WriteString(StagePlaceholder)
			last = end
		}
		from = i + 1
	}
	b.WriteString(msg[last:])
	return b.String()
}

// isNameByte reports whether c can be part of a stage name (or of a longer
// word around one).
func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
