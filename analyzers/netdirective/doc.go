// Package netdirective defines the netdirective analyzer: it reports
// malformed netlint directives, so that a suppression always says why. A
// "//netlint:allow" without a reason suppresses nothing and is reported here
// (the finding it meant to hide is still reported by its own analyzer), and so
// is an unknown verb such as "//netlint:ignore" or a misspelt
// "//netlint:alow".
package netdirective
