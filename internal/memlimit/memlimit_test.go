package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before := Limit()
	tu := Start(16 << 20)
	require.NotNil(t, tu)
	assert.Equal(t, int64(16<<20), Limit(), "the floor at first")

	// 64 MiB live: the limit must rise above it, or the heap could never
	// hold it without collecting all the time.
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	for i := 0; i < 3; i++ { // finalizers run after the cycle that found the sentinel
		runtime.GC()
		runtime.Gosched()
	}
	require.Eventually(t, func() bool { runtime.GC(); return Limit() >= int64(64<<20)*5/4 }, 5e9, 1e7,
		"limit %d with 64 MiB live", Limit())
	runtime.KeepAlive(live)

	tu.Stop()
	assert.Equal(t, before, Limit(), "Stop restores the limit there was")
}

func TestUserSettingsWin(t *testing.T) {
	for _, env := range []string{"GOMEMLIMIT", "GOGC"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv("GOGC", "")
			t.Setenv(env, "200MiB")
			before := debug.SetMemoryLimit(-1)
			assert.Nil(t, Start(16<<20))
			assert.Equal(t, before, Limit())
		})
	}
	assert.Equal(t, int64(math.MaxInt64), Limit(), "no test left a limit behind")
}
