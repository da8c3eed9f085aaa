package allowed

import (
	"net/http/httptest"
	"testing"
)

func TestServer(t *testing.T) {
	srv := httptest.NewServer(nil)
	srv.Close()
}
