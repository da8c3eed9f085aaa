package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The streamed encoding of a key's parts is json.Marshal's, byte for byte:
// a difference would change every stored key and rerun every stage.
func TestKeyEncodingIsJSONMarshal(t *testing.T) {
	odd := []string{"a.txt", "dir/sub/b.csv", `quo"te`, `back\slash`, "<html>&amp;", "tab\there",
		"nl\n", "é accent", "\x7f del", "\xff invalid utf8", "emoji 😀", "\u2028 line sep", ""}
	base := KeyParts{Format: KeyFormat, Processor: "p", Code: []InputID{{Path: "bin/x", Size: 3, SHA256: "ab"}},
		Version: "v<1>", Params: `{"a":1}`, Env: map[string]string{"B": "2", "A": "&"}, Outputs: []string{"{item}"}}
	cases := map[string][]InputID{"nil": nil, "empty": {}}
	for i, p := range odd {
		cases[fmt.Sprintf("odd %d", i)] = []InputID{{Path: p, Size: int64(i) - 3, SHA256: p}}
	}
	rng := rand.New(rand.NewSource(1))
	many := make([]InputID, 5000) // past the streaming buffer's flush size
	for i := range many {
		many[i] = InputID{Path: odd[rng.Intn(len(odd))] + fmt.Sprint(i), Size: rng.Int63(), SHA256: fmt.Sprintf("%064x", rng.Int63())}
	}
	cases["many"] = many
	for name, ins := range cases {
		t.Run(name, func(t *testing.T) {
			k := base
			k.Inputs = ins
			want, err := json.Marshal(&k)
			require.NoError(t, err)
			var got bytes.Buffer
			k.encode(&got)
			assert.Equal(t, string(want), got.String())
		})
	}
}

func BenchmarkKeyFanIn(b *testing.B) {
	k := KeyParts{Format: KeyFormat, Env: map[string]string{}, Outputs: []string{}, Code: []InputID{}}
	for i := 0; i < 10000; i++ {
		k.Inputs = append(k.Inputs, InputID{Path: fmt.Sprintf("work/upper/f%06d.txt", i), Size: 30, SHA256: fmt.Sprintf("%064x", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Key()
	}
}

// BenchmarkKeyFanInMarshal is what Key cost before it streamed its inputs.
func BenchmarkKeyFanInMarshal(b *testing.B) {
	k := KeyParts{Format: KeyFormat, Env: map[string]string{}, Outputs: []string{}, Code: []InputID{}}
	for i := 0; i < 10000; i++ {
		k.Inputs = append(k.Inputs, InputID{Path: fmt.Sprintf("work/upper/f%06d.txt", i), Size: 30, SHA256: fmt.Sprintf("%064x", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := json.Marshal(&k)
		_ = sha256.Sum256(buf)
	}
}
