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
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ErrBrokenChain is what a *ChainError is (errors.Is): the log does not
// verify.
var ErrBrokenChain = errors.New("audit chain broken")

// Is makes errors.Is(err, ErrBrokenChain) true.
func (e *ChainError) Is(target error) bool { return target == ErrBrokenChain }

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
// at the end leave a shorter but intact chain: VerifyHead catches that.
func Verify(path string, key []byte) (*VerifyResult, error) {
	return verify(path, key, nil)
}

// VerifyHead is Verify plus a check against a head recorded earlier (the
// seq and hash stored in run_<id>.json): the log must still contain a record
// with seq wantSeq and exactly that hash. A log that ends before wantSeq was
// truncated; a different hash means it was rewritten from there on.
func VerifyHead(path string, key []byte, wantSeq int64, wantHash string) (*VerifyResult, error) {
	return verify(path, key, &head{seq: wantSeq, hash: wantHash})
}

type head struct {
	seq  int64
	hash string
}

func verify(path string, key []byte, want *head) (*VerifyResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer f.Close()
	res := &VerifyResult{HeadHash: ZeroHash}
	if want != nil && want.seq == 0 && want.hash != ZeroHash {
		return nil, fmt.Errorf("recorded head seq 0 must have hash %s", ZeroHash)
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
		if want != nil && r.Seq == want.seq && r.Hash != want.hash {
			return fail(r.Seq, "hash of seq %d differs from the head recorded by the run (log rewritten from here on)", r.Seq)
		}
		res.Records++
		res.HeadSeq, res.HeadHash, res.Keyed = r.Seq, r.Hash, r.Keyed
		if r.Event == EventRepaired {
			res.Repairs++
		}
	}
	if want != nil && want.seq > res.HeadSeq {
		return nil, &ChainError{
			Line:   int(res.Records) + 1,
			Seq:    want.seq,
			Reason: fmt.Sprintf("log ends at seq %d but a run recorded head seq %d (records cut off at the end)", res.HeadSeq, want.seq),
		}
	}
	return res, nil
}

var (
	errTorn    = errors.New("torn line")
	errTooLong = errors.New("line too long")
)

// readLine returns the next line without its newline, errTorn for a final
// line without one, errTooLong past MaxLineBytes, io.EOF at the end.
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
