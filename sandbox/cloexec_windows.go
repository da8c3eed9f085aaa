package sandbox

// closeInheritedOnExec: on Windows a child inherits only the handles
// passed to it explicitly (os/exec uses a handle list).
func closeInheritedOnExec() {}
