// Package rawwin has Windows-only raw sockets.
package rawwin
