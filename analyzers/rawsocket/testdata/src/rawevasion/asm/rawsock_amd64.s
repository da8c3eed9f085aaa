#include "textflag.h"

// func Rawsock(trap uintptr) uintptr
TEXT ·Rawsock(SB),NOSPLIT,$0-16
	MOVQ trap+0(FP), AX
	SYSCALL // want `assembly makes a system call \(SYSCALL\) netlint cannot check`
	MOVQ AX, ret+8(FP)
	RET
