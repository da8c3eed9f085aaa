// Package usesmetrics imports an accepted package: clean.
package usesmetrics

import "example.com/metrics"

var _ = metrics.Handler
