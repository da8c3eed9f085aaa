// Package memlimit owns guardrun's garbage-collector budget: a soft memory
// limit that keeps a large run's heap close to what it really holds, and
// follows the live heap up so that a run that needs more never thrashes.
//
// The Go runtime's default (GOGC=100) lets the heap grow to twice its live
// size before it collects. A no-op run over 100,000 fan-out items holds
// about 90 MiB live at its peak; doubled, the process reached 190 MB RSS.
// With a soft limit the collector runs earlier instead, for a few percent
// of CPU. A fixed limit is a cliff (a heap that outgrows it collects all
// the time, three to four times slower), so the limit is recomputed after
// every collection as max(floor, heap × Headroom), the heap read just after
// the collection: a small run never collects more often than by default, a
// huge one keeps Headroom of slack.
// GOMEMLIMIT or GOGC in the environment turn this off: the user decides.
package memlimit
