// Package suppress owns the //netlint:allow directive shared by every netlint
// analyzer: parsing it, deciding which findings it covers (the line it is on,
// the line after a directive that stands on its own line, or every spec of an
// import block whose "import (" line it covers), and whether directives are
// honoured at all in a package (not in third-party modules taken from the
// module cache: a dependency cannot exempt itself).
package suppress
