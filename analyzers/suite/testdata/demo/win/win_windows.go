package win

import "net/http"

// Client is used on Windows only.
var Client = http.DefaultClient
