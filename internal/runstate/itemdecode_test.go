package runstate

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/guardrun/guardrun/internal/hashcache"
)

// The fast decoder must agree with encoding/json on every line: records
// json.Marshal wrote, and the same lines mangled.
func TestItemDecoderAgreesWithJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"a", "f00001.txt", "dir/ü.txt", "<&>", "q\"uote", "back\\slash", "tab\t", "", "\xff"}
	pick := func() string { // mostly plain: most lines take the fast path
		if rng.IntN(40) == 0 {
			return strs[3+rng.IntN(len(strs)-3)]
		}
		return strs[rng.IntN(3)]
	}
	num := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return -rng.Int64N(1000)
		default:
			return rng.Int64()
		}
	}
	var lines [][]byte
	for range 3000 {
		rec := &ItemRecord{Item: pick(), Key: pick(), Base: pick(), RunID: pick(), Removed: rng.IntN(5) == 0, LinesIn: num(), LinesOut: num()}
		for range rng.IntN(3) {
			in := InputRecord{Path: pick(), Size: num(), SHA256: pick()}
			if rng.IntN(2) == 0 {
				in.ID = &hashcache.FileID{Dev: uint64(rng.IntN(3)), Ino: uint64(rng.IntN(5)), Size: num(), MtimeNs: num(), CtimeNs: num()}
			}
			rec.Inputs = append(rec.Inputs, in)
		}
		for range rng.IntN(3) {
			rec.Outputs = append(rec.Outputs, MarkerOutput{OutputRecord: OutputRecord{Path: pick(), Size: num(), SHA256: pick()},
				ID: hashcache.FileID{Dev: uint64(rng.IntN(3)), Ino: uint64(rng.Int64()), Size: num(), MtimeNs: num(), CtimeNs: num()}})
		}
		if rng.IntN(4) == 0 {
			rec.Inputs = []InputRecord{}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	// Mangled: cut short, one byte changed, non-canonical spellings.
	for i := range 3000 {
		b := append([]byte(nil), lines[i]...)
		switch rng.IntN(3) {
		case 0:
			b = b[:rng.IntN(len(b))]
		case 1:
			b[rng.IntN(len(b))] = "0123456789\",:{}[]-.e tn\\"[rng.IntN(24)]
		case 2:
			b = append(b[:len(b)-1], []byte(`,"x":1}`)...)
		}
		lines = append(lines, b)
	}
	lines = append(lines, []byte(`{"item":"a","key":"k","inputs":[{"path":"p","size":01,"sha256":"s"}]}`),
		[]byte(`{"item":"a","linesIn":1e3}`), []byte(`{"item":"a","linesIn":9999999999999999999}`),
		[]byte(`{"item":"a","removed":false}`), []byte(`{"item":"a","outputs":[{"path":"p","size":1,"sha256":"s","id":{"ino":2,"size":1,"mtimeNs":3}}]}`))
	fast := 0
	var d itemDecoder
	for _, line := range lines {
		var want ItemRecord
		wantOK := json.Unmarshal(line, &want) == nil
		var got ItemRecord
		if d.fast(line, &got) {
			fast++
			if !wantOK || !reflect.DeepEqual(got, want) {
				t.Fatalf("fast path disagrees on %s:\n got %+v\nwant %+v (json ok %v)", line, got, want, wantOK)
			}
		}
		got = ItemRecord{}
		if ok := d.decode(line, &got); ok != wantOK || (ok && !reflect.DeepEqual(got, want)) {
			t.Fatalf("decode disagrees on %s: ok %v, want %v", line, ok, wantOK)
		}
		// What Get uses: strings share one copy of the line, the first
		// input, identity and output share the record's allocation.
		if rec := d.decodeOnceNew(line); (rec != nil) != wantOK || (rec != nil && !reflect.DeepEqual(*rec, want)) {
			t.Fatalf("decodeOnceNew disagrees on %s:\n got %+v\nwant %+v (json ok %v)", line, rec, want, wantOK)
		}
	}
	if fast < 1000 {
		t.Fatalf("fast path taken for %d of %d lines: it no longer reads what json.Marshal writes", fast, len(lines))
	}
}

func BenchmarkJournalDecode(b *testing.B) {
	rec := &ItemRecord{Item: "f00001.txt", Key: "390ac13abb29323849e73fdd8f718a451326c7d7591b5a13da710b914f542556", Base: "4e0c18e053e89de60d1f8146a8f0a8304ad01be74e5d85e02ec2b343822e1b6c",
		Inputs: []InputRecord{{Path: "data/input/f00000.txt", Size: 15, SHA256: "a1b09eff44b9d2b865404442f8b412bd3db2dead556ccf80545276fed563d2ac",
			ID: &hashcache.FileID{Dev: 65024, Ino: 10117181, Size: 15, MtimeNs: 1796230459267089810, CtimeNs: 1796236051601222363}}},
		Outputs: []MarkerOutput{{OutputRecord: OutputRecord{Path: "data/work/upper/f00000.txt", Size: 15, SHA256: "8fc998d40198578f1c79fec88f53be9bc6fe3ded0f05aa467802baac71c0b910"}, ID: hashcache.FileID{Dev: 65024, Ino: 10436768, Size: 15, MtimeNs: 1796236052103089810, CtimeNs: 1796236052105712398}}},
		RunID:   "20261202T182730Z-b2b9", LinesOut: 2}
	line, _ := json.Marshal(rec)
	b.Run("fast", func(b *testing.B) {
		var d itemDecoder
		for b.Loop() {
			var r ItemRecord
			if !d.decode(line, &r) {
				b.Fatal("bad")
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var r ItemRecord
			if json.Unmarshal(line, &r) != nil {
				b.Fatal("bad")
			}
		}
	})
}
