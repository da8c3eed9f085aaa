// Package audit owns guardrun's tamper-evident, append-only audit log,
// stateDir/audit.jsonl: one JSON record per line, each carrying a sequence
// number, the previous record's hash and its own hash (SHA-256, or
// HMAC-SHA-256 when a key is configured) over its canonical encoding, so that
// an edited, deleted, inserted or reordered record breaks the chain at itself.
//
// A record is committed when the newline that ends it is on disk: each record
// is written with one write(2) of the whole line and fsynced (or batched with
// AppendNoSync and Sync). Open reads only the tail of the file, so its cost
// does not grow with the log; a torn last line left by a crash mid-append is
// cut off and the repair is itself recorded as an "audit.repaired" event.
// Verify and VerifyHead check a whole log and name the first bad line.
//
// The package takes no lock: its caller (the runner) holds the pipeline lock
// while a Log is open, so there is exactly one writer. A Log is safe for use
// by several goroutines of that writer.
package audit
