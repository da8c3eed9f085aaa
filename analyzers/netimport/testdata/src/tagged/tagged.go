// Package tagged has files selected by build tags.
package tagged
