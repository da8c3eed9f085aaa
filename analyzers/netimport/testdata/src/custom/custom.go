package custom

import (
	"example.com/telemetry"      // want `forbidden network import "example.com/telemetry" \(denied by -deny\)`
	"example.com/telemetry/safe" // allowed again by -allow: the longer pattern wins
	"net/url"                    // want `forbidden network import "net/url" \(denied by -deny\)`
)

var (
	_ = telemetry.Send
	_ = safe.Format
	_ = url.Parse
)
