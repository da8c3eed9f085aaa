package pipeline

// namePattern is a name syntax that is checked without package regexp:
// compiling regexps is start-up work that every guardrun command would pay,
// for three patterns a loop decides. String is the equivalent regular
// expression, as messages show it; TestNamePatternsAreTheirRegexps keeps
// the two equal.
type namePattern struct {
	re    string
	first func(byte) bool // the first byte
	rest  func(byte) bool // every other byte
	max   int             // the most bytes after the first; -1: no limit
}

func (p namePattern) MatchString(s string) bool {
	if s == "" || !p.first(s[0]) || (p.max >= 0 && len(s)-1 > p.max) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.rest(s[i]) {
			return false
		}
	}
	return true
}

func (p namePattern) String() string { return p.re }

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var (
	pipelineNameRE = namePattern{re: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`, max: 63,
		first: func(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) },
		rest:  func(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) || c == '_' || c == '.' || c == '-' }}
	stageNameRE = namePattern{re: `^[a-z][a-z0-9_-]{0,63}$`, max: 63,
		first: isLower,
		rest:  func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' || c == '-' }}
	envKeyRE = namePattern{re: `^[A-Za-z_][A-Za-z0-9_]*$`, max: -1,
		first: func(c byte) bool { return isLower(c) || isUpper(c) || c == '_' },
		rest:  func(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) || c == '_' }}
)
