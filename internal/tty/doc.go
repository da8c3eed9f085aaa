// Package tty owns one question: is this file a terminal? The CLI draws live
// progress lines only on a terminal and prints plain lines otherwise.
package tty
