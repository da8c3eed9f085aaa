// Package d talks HTTP.
package d

import "net/http"

// Get fetches a URL.
func Get(u string) error {
	_, err := http.Get(u)
	return err
}
