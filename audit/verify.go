package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// ChainError is the first problem Verify found. Line is 1-based; Seq is the
// offending record's seq when it could be read, else 0.
type ChainError struct {
	Line   int
	Seq    int64
	Reason string
	// Source is the file that recorded the anchor this error is about
	// (e.g. "run_<id>.json"); empty for damage in the log itself.
	Source string
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ErrBrokenChain is what a *ChainError is (errors.Is): the log does not
// verify.
var ErrBrokenChain = errors.New("audit chain broken")

// Is makes errors.Is(err, ErrBrokenChain) true.
func (e *ChainError) Is(target error) bool { return target == ErrBrokenChain }

// Code is a stable machine-readable name of the error.
func (e *ChainError) Code() string { return "audit_chain_broken" }

// VerifyResult summarises an intact log.
type VerifyResult struct {
	Records  int64  `json:"records"`
	HeadSeq  int64  `json:"headSeq"`
	HeadHash string `json:"headHash"`
	// Repairs counts "audit.repaired" records: torn tails cut off by Open.
	Repairs int64 `json:"repairs"`
	// Keyed reports whether the records are HMACs (false for an empty log).
	Keyed bool `json:"keyed"`
}

// Verify checks every line of the log at path: it parses as a record, its
// seq is the previous one plus 1 (starting at 1), its prev is the previous
// record's hash (64 zeros for the first), its hash recomputes with key (nil
// for none) and the line is in canonical form. It returns a *ChainError for
// the first bad line, any other error for an unreadable file. Records cut off
// at the end leave a shorter but intact chain: anchors (VerifyWith) catch
// that.
func Verify(path string, key []byte) (*VerifyResult, error) {
	return VerifyWith(path, key, VerifyOptions{})
}

// VerifyHead is Verify plus a check against a head recorded earlier (the
// seq and hash stored in run_<id>.json): the log must still contain a record
// with seq wantSeq and exactly that hash. A log that ends before wantSeq was
// truncated; a different hash means it was rewritten from there on.
func VerifyHead(path string, key []byte, wantSeq int64, wantHash string) (*VerifyResult, error) {
	return VerifyWith(path, key, VerifyOptions{Anchors: []Anchor{{Seq: wantSeq, Hash: wantHash}}})
}

// Anchor is a chain head recorded outside the log: the log must hold a
// record with seq Seq and exactly hash Hash (seq 0 is the empty chain, hash
// ZeroHash). Source names where it was recorded (e.g. "run_<id>.json") for
// the error message.
type Anchor struct {
	Seq    int64
	Hash   string
	Source string
}

// VerifyOptions extend Verify.
type VerifyOptions struct {
	// Anchors are heads recorded elsewhere (every run_<id>.json): each must
	// be in the chain. The log is read once however many there are.
	Anchors []Anchor
	// Check, when set, is called with every record that verified, in
	// order; an error stops verification with a *ChainError at that line.
	Check func(r *Record) error
}

// VerifyWith is Verify with anchors and a per-record check. An anchor whose
// seq is past the end of the log (records cut off, or a planted record
// claiming a later head) or whose hash differs from the record with its
// seq (the log rewritten from there on, or a forged anchor) is a
// *ChainError naming the anchor's Source.
func VerifyWith(path string, key []byte, o VerifyOptions) (*VerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer f.Close()
	res := &VerifyResult{HeadHash: ZeroHash}
	bySeq := map[int64][]Anchor{}
	for _, a := range o.Anchors {
		if a.Seq < 0 || a.Seq == 0 && a.Hash != ZeroHash {
			return nil, &ChainError{Line: 1, Seq: a.Seq, Source: a.Source,
				Reason: fmt.Sprintf("%shead seq %d hash %q is not the head of any chain", sourcePrefix(a.Source), a.Seq, a.Hash)}
		}
		if a.Seq > 0 {
			bySeq[a.Seq] = append(bySeq[a.Seq], a)
		}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for lineNo := 1; ; lineNo++ {
		raw, err := readLine(br)
		if err == io.EOF {
			break
		}
		fail := func(seq int64, format string, args ...any) (*VerifyResult, error) {
			return nil, &ChainError{Line: lineNo, Seq: seq, Reason: fmt.Sprintf(format, args...)}
		}
		switch {
		case errors.Is(err, errTorn):
			return fail(0, "last line has no trailing newline (append interrupted; the next run repairs it)")
		case errors.Is(err, errTooLong):
			return fail(0, "line longer than %d bytes", MaxLineBytes)
		case err != nil:
			return nil, fmt.Errorf("reading audit log: %w", err)
		}
		r, perr := parse(raw)
		if perr != nil {
			return fail(0, "%v", perr)
		}
		switch {
		case r.Seq != res.HeadSeq+1 && lineNo == 1:
			return fail(r.Seq, "first record has seq %d, want 1 (records deleted at the start or reordered)", r.Seq)
		case r.Seq != res.HeadSeq+1:
			return fail(r.Seq, "seq %d follows %d (record deleted or reordered)", r.Seq, res.HeadSeq)
		case r.Prev != res.HeadHash && lineNo == 1:
			return fail(r.Seq, "prev of the first record is not %d zeros (records deleted at the start)", len(ZeroHash))
		case r.Prev != res.HeadHash:
			return fail(r.Seq, "prev does not match line %d's hash (record inserted or reordered)", lineNo-1)
		}
		reason, err := checkHash(r, raw, key)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			return fail(r.Seq, "%s", reason)
		}
		if as, ok := bySeq[r.Seq]; ok {
			for _, a := range as {
				if a.Hash != r.Hash {
					return nil, &ChainError{Line: lineNo, Seq: r.Seq, Source: a.Source,
						Reason: fmt.Sprintf("hash of seq %d differs from the head recorded %s(log rewritten from here on%s)", r.Seq, sourceBy(a.Source), plantedOr(a.Source))}
				}
			}
			delete(bySeq, r.Seq)
		}
		if o.Check != nil {
			if err := o.Check(r); err != nil {
				return fail(r.Seq, "%v", err)
			}
		}
		res.Records++
		res.HeadSeq, res.HeadHash, res.Keyed = r.Seq, r.Hash, r.Keyed
		if r.Event == EventRepaired {
			res.Repairs++
		}
	}
	if len(bySeq) > 0 {
		// Name the anchor furthest past the end (ties: by source), so
		// that the message is the same on every verify.
		var worst *Anchor
		for _, as := range bySeq {
			for i := range as {
				a := &as[i]
				if worst == nil || a.Seq > worst.Seq || a.Seq == worst.Seq && a.Source < worst.Source {
					worst = a
				}
			}
		}
		return nil, &ChainError{
			Line:   int(res.Records) + 1,
			Seq:    worst.Seq,
			Source: worst.Source,
			Reason: fmt.Sprintf("log ends at seq %d but %s recorded head seq %d (records cut off at the end%s)", res.HeadSeq, sourceOr(worst.Source, "a run"), worst.Seq, plantedOr(worst.Source)),
		}
	}
	return res, nil
}

func sourcePrefix(src string) string {
	if src == "" {
		return ""
	}
	return src + ": "
}

func sourceBy(src string) string {
	if src == "" {
		return "by the run "
	}
	return "in " + src + " "
}

// plantedOr is the other explanation of a bad anchor in a file: the file
// itself was planted or edited.
func plantedOr(src string) string {
	if src == "" {
		return ""
	}
	return ", or " + src + " was planted or edited"
}

func sourceOr(src, def string) string {
	if src == "" {
		return def
	}
	return src
}

var (
	errTorn    = errors.New("torn line")
	errTooLong = errors.New("line too long")
)

func readLine(br *bufio.Reader) ([]byte, error) {
	var acc []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(acc)+len(frag) > MaxLineBytes {
			return nil, errTooLong
		}
		switch {
		case err == nil:
			if acc == nil {
				return frag[:len(frag)-1], nil
			}
			acc = append(acc, frag...)
			return acc[:len(acc)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			acc = append(acc, frag...)
		case err == io.EOF:
			if len(acc)+len(frag) == 0 {
				return nil, io.EOF
			}
			return nil, errTorn
		default:
			return nil, err
		}
	}
}
