// Package e2e holds only tests: it builds the demo processors (copy, upper,
// flaky, slowcopy, wc) into real binaries and drives them the way guardrun
// does — environment, progress pipe on fd 3, kill -9 at random moments,
// truncation to the last checkpoint and resume — to prove the processor
// protocol end to end. It also runs the Python processor from
// docs/PROCESSORS.md.
package e2e
