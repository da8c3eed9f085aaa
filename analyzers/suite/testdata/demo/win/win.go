// Package win only reaches the network on Windows.
package win
