package testonly

import (
	"testing"

	"example.com/demo/chain/b"
)

func TestSum(t *testing.T) {
	_ = b.Run
	if Sum(1, 2) != 3 {
		t.Fatal("sum")
	}
}
