// Package metrics accepts its one network import with a reason, so the edge
// is cut and importers are clean.
package metrics

import (
	"net/http" //netlint:allow serves /metrics on the host's loopback only, never inside a sandbox
)

// Handler serves.
func Handler() http.Handler { return http.NotFoundHandler() }
